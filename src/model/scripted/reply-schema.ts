import { z } from 'zod';

/* The shape of a scripted reply, apart from the script so the reply builder can use it without importing the script parser. */

const text = z.string().min(1);

const textBlockSchema = z.strictObject({ type: z.literal('text'), text: z.string() });
const toolUseBlockSchema = z.strictObject({
  type: z.literal('tool_use'),
  name: text,
  input: z.record(z.string(), z.unknown()).default({}),
});
const replyBlockSchema = z.discriminatedUnion('type', [textBlockSchema, toolUseBlockSchema]);

const tokenCount = z.int().nonnegative();
export const replySchema = z.strictObject({
  content: z.array(replyBlockSchema).min(1),
  stop_reason: z
    .enum(['end_turn', 'tool_use', 'max_tokens', 'stop_sequence', 'pause_turn', 'refusal'])
    .optional(),
  usage: z
    .strictObject({
      input_tokens: tokenCount.optional(),
      output_tokens: tokenCount.optional(),
      cache_creation_input_tokens: tokenCount.optional(),
      cache_read_input_tokens: tokenCount.optional(),
    })
    .optional(),
});

export type ReplySpec = z.infer<typeof replySchema>;
export type ReplyBlockSpec = ReplySpec['content'][number];
