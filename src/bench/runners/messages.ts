import { basename } from 'node:path';
import type {
  ContentBlockParam,
  Message,
  MessageCreateParamsNonStreaming,
  MessageParam,
  TextBlockParam,
  ToolResultBlockParam,
} from '@anthropic-ai/sdk/resources/messages';
import { CacheWarmer } from '../../model/cache-warm.js';
import { TRIAL_HEADER } from '../../model/trial-header.js';
import { addUsage, pricedTokens, type Usage, zeroUsage } from '../../model/usage.js';
import { renderPrompt } from '../../prompts/render.js';
import type { Sandbox } from '../sandbox/index.js';
import type {
  Runner,
  RunnerInput,
  RunnerOutput,
  Skill,
  StopReason,
  TranscriptMessage,
} from '../types.js';
import { executeTool, folderBytes, toolDefinitions } from './tools.js';

/** The slice of the model client the runner needs (see src/model/client.ts). */
export interface MessagesPort {
  create(
    params: MessageCreateParamsNonStreaming,
    meta: { tag: string; signal?: AbortSignal; headers?: Record<string, string> },
  ): Promise<Message>;
}

export interface MessagesRunnerDeps {
  model: MessagesPort;
  sandbox: Sandbox;
  /** Largest workspace a trial may leave behind (disk-heavy outputs end the trial). */
  maxWorkspaceBytes?: number;
  now?: () => number;
  /**
   * Holds a trial's call while another trial's call in flight is writing a prompt prefix they
   * share, so it reads the prefix instead of writing it again (default: one warmer per runner;
   * null sends every call at once).
   */
  cacheWarmer?: CacheWarmer | null;
}

const DEFAULT_MAX_WORKSPACE_BYTES = 50 * 1024 * 1024;

/**
 * The built-in tool loop on the Messages API: the skill (frontmatter + body) as system context,
 * its other files readable through a tool, file and command tools confined to the trial copy.
 */
export function createMessagesRunner(deps: MessagesRunnerDeps): Runner {
  const now = deps.now ?? Date.now;
  const maxBytes = deps.maxWorkspaceBytes ?? DEFAULT_MAX_WORKSPACE_BYTES;
  const warmer = deps.cacheWarmer === undefined ? new CacheWarmer() : deps.cacheWarmer;

  return {
    name: 'messages',
    async runTrial(input: RunnerInput): Promise<RunnerOutput> {
      const { probe, skill, workspaceDir } = input;
      const limits = probe.limits;
      const deadline = now() + limits.timeout_s * 1000;
      const timeout = AbortSignal.timeout(limits.timeout_s * 1000);
      const signal = AbortSignal.any([input.signal, timeout]);

      const system = await systemBlocks(skill);
      const tools = toolDefinitions(skill !== null);
      const lastTool = tools.at(-1);
      const cachedTools = tools.map((t) =>
        t === lastTool ? { ...t, cache_control: { type: 'ephemeral' as const } } : t,
      );
      const messages: MessageParam[] = [{ role: 'user', content: probe.prompt }];
      let usage: Usage = zeroUsage();
      let finalMessage = '';

      const finish = (stopReason: StopReason, error?: string): RunnerOutput => ({
        transcript: messages as TranscriptMessage[],
        finalMessage,
        usage,
        stopReason,
        ...(error === undefined ? {} : { error }),
      });

      const trialName = `${input.probe.id}#${basename(input.workspaceDir)}`;
      for (let turn = 1; turn <= limits.max_turns; turn++) {
        if (signal.aborted)
          return finish(
            input.signal.aborted ? 'error' : 'timeout',
            abortText(input.signal, limits.timeout_s),
          );
        let reply: Message;
        try {
          const params = {
            model: input.model,
            max_tokens: limits.max_output_tokens,
            system,
            tools: cachedTools,
            messages: withTrailingCacheMark(messages),
          };
          const send = () =>
            deps.model.create(params, {
              tag: 'trial',
              signal,
              headers: { [TRIAL_HEADER]: trialName },
            });
          reply = await (warmer === null ? send() : warmer.run(params, send));
        } catch (error) {
          if (timeout.aborted)
            return finish('timeout', `trial timed out after ${limits.timeout_s} s`);
          return finish('error', `model call failed: ${(error as Error).message}`);
        }
        usage = addUsage(usage, reply.usage);
        messages.push({ role: 'assistant', content: reply.content as ContentBlockParam[] });
        finalMessage = reply.content
          .filter((b) => b.type === 'text')
          .map((b) => b.text)
          .join('\n');

        if (reply.stop_reason !== 'tool_use') {
          if (reply.stop_reason === 'refusal') return finish('refusal');
          return finish(reply.stop_reason === 'max_tokens' ? 'max_tokens' : 'end_turn');
        }

        const results: ToolResultBlockParam[] = [];
        for (const block of reply.content) {
          if (block.type !== 'tool_use') continue;
          const outcome = await executeTool(block.name, block.input, {
            workspaceDir,
            skillDir: skill?.dir ?? null,
            sandbox: deps.sandbox,
            remainingMs: () => deadline - now(),
          });
          results.push({
            type: 'tool_result',
            tool_use_id: block.id,
            content: outcome.content,
            ...(outcome.isError ? { is_error: true } : {}),
          });
        }
        messages.push({ role: 'user', content: results });

        const bytes = await folderBytes(workspaceDir);
        if (bytes > maxBytes) {
          return finish(
            'error',
            `workspace grew to ${formatSize(bytes)}, over the limit of ${formatSize(maxBytes)} for a trial`,
          );
        }
        if (pricedTokens(usage) > limits.max_total_tokens) return finish('budget');
      }
      return finish('max_turns');
    },
  };
}

async function systemBlocks(skill: Skill | null): Promise<TextBlockParam[]> {
  const blocks: TextBlockParam[] = [{ type: 'text', text: await renderPrompt('trial-agent', {}) }];
  if (skill) {
    blocks.push({
      type: 'text',
      text: await renderPrompt('trial-skill', {
        name: skill.name,
        files: skill.files.join(', '),
        skill_md: skill.raw,
      }),
      cache_control: { type: 'ephemeral' },
    });
  }
  return blocks;
}

/** Marks the newest message so each turn reads the conversation so far from the cache. */
function withTrailingCacheMark(messages: MessageParam[]): MessageParam[] {
  const last = messages.at(-1);
  if (!last) return messages;
  const content: ContentBlockParam[] =
    typeof last.content === 'string' ? [{ type: 'text', text: last.content }] : [...last.content];
  const tail = content.at(-1);
  if (!tail || tail.type === 'thinking' || tail.type === 'redacted_thinking') return messages;
  content[content.length - 1] = {
    ...tail,
    cache_control: { type: 'ephemeral' },
  } as ContentBlockParam;
  return [...messages.slice(0, -1), { ...last, content } as MessageParam];
}

function abortText(external: AbortSignal, timeoutS: number): string {
  return external.aborted ? 'trial cancelled' : `trial timed out after ${timeoutS} s`;
}

/** Exact bytes (a rounded size can read as under its own limit), plus MB when large. */
function formatSize(bytes: number): string {
  const exact = `${bytes.toLocaleString('en-US')} bytes`;
  const mb = bytes / (1024 * 1024);
  return mb >= 1 ? `${exact} (${mb.toFixed(1)} MB)` : exact;
}
