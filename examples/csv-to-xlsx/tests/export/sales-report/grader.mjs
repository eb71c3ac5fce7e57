// Passes when report.xlsx is a workbook whose first sheet holds every row of sales.csv, with the
// amounts as numeric cells (so a SUM works) and each region in one cell.
// Imports fflate (a zip reader), installed from the suite's grader_dependencies.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { strFromU8, unzipSync } from 'fflate';

const EXPECTED = [
  { region: 'North', amount: 1200.5 },
  { region: 'South', amount: 980 },
  { region: 'East, Coastal', amount: 15000 },
];

const unescapeXml = (s) =>
  s.replace(/&(lt|gt|amp|quot|apos|#\d+|#x[0-9a-f]+);/gi, (_, e) => {
    const named = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" }[e.toLowerCase()];
    if (named) return named;
    return String.fromCodePoint(
      e[1].toLowerCase() === 'x' ? parseInt(e.slice(2), 16) : Number(e.slice(1)),
    );
  });

/** The text of every <t> inside `xml` (rich text runs joined). */
const textOf = (xml) =>
  [...xml.matchAll(/<t(?:\s[^>]*)?>([^<]*)<\/t>/g)].map((m) => unescapeXml(m[1])).join('');

const attr = (tag, name) => new RegExp(`\\s${name}="([^"]*)"`).exec(tag)?.[1];

/** Column index of a cell reference such as "C12" (A = 0). */
const columnOf = (ref) =>
  [...ref.replace(/\d+$/, '')].reduce((n, ch) => n * 26 + ch.charCodeAt(0) - 64, 0) - 1;

/** The first sheet's rows: arrays of { kind: 'number' | 'text' | 'bool', value }. */
function firstSheetRows(files) {
  const part = (name) => (files[name] ? strFromU8(files[name]) : null);
  const workbook = part('xl/workbook.xml');
  const rels = part('xl/_rels/workbook.xml.rels');
  if (workbook === null || rels === null) return null;
  const firstSheet = /<sheet\s[^>]*>/.exec(workbook)?.[0];
  const relId = firstSheet && attr(firstSheet, 'r:id');
  const rel = [...rels.matchAll(/<Relationship\s[^>]*>/g)]
    .map((m) => m[0])
    .find((r) => attr(r, 'Id') === relId);
  const target = rel && attr(rel, 'Target');
  if (!target) return null;
  const sheet = part(target.startsWith('/') ? target.slice(1) : `xl/${target}`);
  if (sheet === null) return null;
  const shared = [...(part('xl/sharedStrings.xml') ?? '').matchAll(/<si>([\s\S]*?)<\/si>/g)].map(
    (m) => textOf(m[1]),
  );

  const rows = [];
  for (const rowMatch of sheet.matchAll(/<row\b[^>]*>([\s\S]*?)<\/row>/g)) {
    const row = [];
    for (const c of rowMatch[1].matchAll(/<c\b([^>]*?)(?:\/>|>([\s\S]*?)<\/c>)/g)) {
      const tag = `<c${c[1]}>`;
      const inner = c[2] ?? '';
      const type = attr(tag, 't') ?? 'n';
      const v = /<v>([^<]*)<\/v>/.exec(inner)?.[1];
      const index = attr(tag, 'r') ? columnOf(attr(tag, 'r')) : row.length;
      if (type === 'n' && v !== undefined) row[index] = { kind: 'number', value: Number(v) };
      else if (type === 's' && v !== undefined)
        row[index] = { kind: 'text', value: shared[Number(v)] ?? '' };
      else if (type === 'inlineStr') row[index] = { kind: 'text', value: textOf(inner) };
      else if (type === 'str' && v !== undefined)
        row[index] = { kind: 'text', value: unescapeXml(v) };
      else if (type === 'b' && v !== undefined) row[index] = { kind: 'bool', value: v === '1' };
    }
    rows.push(row);
  }
  return rows;
}

export default async function grade({ workspaceDir }) {
  let bytes;
  try {
    bytes = await readFile(join(workspaceDir, 'report.xlsx'));
  } catch {
    return { pass: false, score: 0, reasons: ['report.xlsx is missing'] };
  }
  let rows;
  try {
    rows = firstSheetRows(unzipSync(new Uint8Array(bytes)));
  } catch (error) {
    return {
      pass: false,
      score: 0,
      reasons: [`report.xlsx is not a zip archive: ${error.message}`],
    };
  }
  if (rows === null)
    return { pass: false, score: 0, reasons: ['report.xlsx has no readable first sheet'] };

  const norm = (cell) => (cell?.kind === 'text' ? cell.value.trim().toLowerCase() : undefined);
  const headerAt = rows.findIndex(
    (row) => row.some((c) => norm(c) === 'region') && row.some((c) => norm(c) === 'amount'),
  );
  if (headerAt === -1)
    return { pass: false, score: 0, reasons: ['no header row with "region" and "amount"'] };
  const header = rows[headerAt];
  const regionCol = header.findIndex((c) => norm(c) === 'region');
  const amountCol = header.findIndex((c) => norm(c) === 'amount');
  const data = rows.slice(headerAt + 1);

  const reasons = [];
  let found = 0;
  for (const { region, amount } of EXPECTED) {
    const row = data.find(
      (r) => r[regionCol]?.kind === 'text' && r[regionCol].value.trim() === region,
    );
    if (!row) {
      reasons.push(`no row for region "${region}" (a quoted field split into two cells?)`);
      continue;
    }
    const cell = row[amountCol];
    if (cell?.kind !== 'number') {
      reasons.push(
        `amount for ${region} is ${cell ? `${cell.kind} "${cell.value}"` : 'empty'}, expected the number ${amount}`,
      );
    } else if (Math.abs(cell.value - amount) > 0.005) {
      reasons.push(`amount for ${region} is ${cell.value}, expected ${amount}`);
    } else found++;
  }
  const score = found / EXPECTED.length;
  return {
    pass: found === EXPECTED.length,
    score,
    reasons: reasons.length ? reasons : ['every row is there with a numeric amount'],
  };
}
