import { createHash } from 'node:crypto';
import type { SpecFile } from './reports.js';

/**
 * Held-out probes (docs/decision-rule.md): about `share` of all probes carry `heldout: true`. The
 * designer chooses; when its marks miss the target count the operator fixes them the same way on
 * every run: probes are taken in the order of a hash of their `<functionality>/<probe>` id, and a
 * probe is made held-out last when it is its functionality's only visible probe. Preserved specs
 * (picked ones, or any spec outside a revision) are never changed.
 */

export interface HeldoutFix {
  specs: SpecFile[];
  target: number;
  /** Held-out probes after the fix, preserved specs included. */
  heldout: number;
  total: number;
  /** Probe ids (`f/p`) whose mark the operator changed, with the mark they got. */
  flipped: Array<{ id: string; heldout: boolean }>;
}

const orderKey = (id: string) => createHash('sha256').update(id).digest('hex');

export function heldoutTarget(total: number, share: number): number {
  return Math.round(total * share);
}

/** Returns copies of `editable` with marks fixed so the whole set meets the share if it can. */
export function fixHeldoutShare(
  preserved: readonly SpecFile[],
  editable: readonly SpecFile[],
  share: number,
): HeldoutFix {
  const specs = editable.map((s) => ({ ...s, probes: s.probes.map((p) => ({ ...p })) }));
  const all = [...preserved, ...specs];
  const total = all.reduce((n, s) => n + s.probes.length, 0);
  const target = heldoutTarget(total, share);
  const count = () => all.reduce((n, s) => n + s.probes.filter((p) => p.heldout).length, 0);
  const flipped: HeldoutFix['flipped'] = [];

  const candidates = specs
    .flatMap((spec) =>
      spec.probes.map((probe) => ({ spec, probe, id: `${spec.functionality}/${probe.id}` })),
    )
    .sort((a, b) => orderKey(a.id).localeCompare(orderKey(b.id)));

  while (count() > target) {
    const next = candidates.find((c) => c.probe.heldout);
    if (next === undefined) break;
    next.probe.heldout = false;
    flipped.push({ id: next.id, heldout: false });
  }
  while (count() < target) {
    const open = candidates.filter((c) => !c.probe.heldout);
    const lastVisible = (c: (typeof open)[number]) =>
      c.spec.probes.filter((p) => !p.heldout).length === 1;
    const next = open.find((c) => !lastVisible(c)) ?? open[0];
    if (next === undefined) break;
    next.probe.heldout = true;
    flipped.push({ id: next.id, heldout: true });
  }
  return { specs, target, heldout: count(), total, flipped };
}
