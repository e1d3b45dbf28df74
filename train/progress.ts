// The live progress line of a training run:
//   epoch 2/3  step 140/300  loss 0.4821  lr 1.86e-05  212.4 ex/s  elapsed 0:41  ETA 0:47
// On a TTY the line is redrawn in place ('\r' + erase to end of line) and permanent lines (epoch
// summaries) are printed above it; elsewhere (CI logs, files) every update is a plain line.
// Platform neutral: the sink is injected (train/io-node.ts has one for process.stdout).

export interface ProgressSink {
  write(text: string): void;
  /** Redraw in place with '\r' instead of printing one line per update. */
  readonly isTTY: boolean;
}

export interface ProgressInfo {
  epoch: number;
  epochs: number;
  /** Optimizer steps done (global). */
  step: number;
  /** Total optimizer steps of the run, when known. */
  totalSteps?: number;
  /** Latest mean training loss (over the last logged window). */
  loss?: number;
  lr?: number;
  /** Throughput since the run (or resume) started. */
  examplesPerSec?: number;
  /** Unit of the throughput: 'ex' (examples) or 'it' (micro-batches). */
  unit?: string;
  elapsedSec: number;
  /** Estimated seconds left, when the total is known. */
  etaSec?: number;
  /** Extra key/values (e.g. grad_norm). */
  extra?: Record<string, number>;
}

/** 75 -> '1:15', 3725 -> '1:02:05'. */
export function formatDuration(sec: number): string {
  if (!Number.isFinite(sec) || sec < 0) return '?';
  const s = Math.round(sec);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${String(r).padStart(2, '0')}` : `${m}:${String(r).padStart(2, '0')}`;
}

function fmtNum(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  return a !== 0 && (a < 1e-3 || a >= 1e5) ? v.toExponential(2) : v.toFixed(4);
}

export function formatProgress(p: ProgressInfo): string {
  const parts = [`epoch ${p.epoch}/${p.epochs}`, `step ${p.step}${p.totalSteps ? `/${p.totalSteps}` : ''}`];
  if (p.loss !== undefined) parts.push(`loss ${fmtNum(p.loss)}`);
  if (p.lr !== undefined) parts.push(`lr ${p.lr.toExponential(2)}`);
  for (const [k, v] of Object.entries(p.extra ?? {})) parts.push(`${k} ${fmtNum(v)}`);
  if (p.examplesPerSec !== undefined && Number.isFinite(p.examplesPerSec)) parts.push(`${p.examplesPerSec.toFixed(1)} ${p.unit ?? 'ex'}/s`);
  parts.push(`elapsed ${formatDuration(p.elapsedSec)}`);
  if (p.etaSec !== undefined) parts.push(`ETA ${formatDuration(p.etaSec)}`);
  return parts.join('  ');
}

export class Progress {
  private live = false;
  private lastDraw = -Infinity;

  constructor(
    private readonly sink: ProgressSink | null,
    /** Minimum milliseconds between in-place redraws on a TTY. */
    private readonly minIntervalMs = 100,
    private readonly now: () => number = () => Date.now(),
  ) {}

  /**
   * Shows progress. `logged` marks an update carrying a freshly read loss: on a non-TTY sink only
   * those are printed (one line each); on a TTY every update redraws the line (throttled).
   */
  update(p: ProgressInfo, logged: boolean): void {
    if (!this.sink) return;
    const text = formatProgress(p);
    if (this.sink.isTTY) {
      const t = this.now();
      if (!logged && t - this.lastDraw < this.minIntervalMs) return;
      this.lastDraw = t;
      this.sink.write(`\r${text}\x1b[K`);
      this.live = true;
    } else if (logged) {
      this.sink.write(`${text}\n`);
    }
  }

  /** A permanent line (epoch summary, checkpoint notice), printed above the live line. */
  log(line: string): void {
    if (!this.sink) return;
    if (this.live) this.sink.write('\r\x1b[K');
    this.sink.write(`${line}\n`);
    this.live = false;
    this.lastDraw = -Infinity;
  }

  /** Ends the live line (newline on a TTY). */
  end(): void {
    if (this.sink && this.live) this.sink.write('\n');
    this.live = false;
  }
}

/** A sink writing whole lines through console.log (never in place). */
export function consoleSink(): ProgressSink {
  let buf = '';
  return {
    isTTY: false,
    write(text: string) {
      buf += text;
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        console.log(buf.slice(0, i));
        buf = buf.slice(i + 1);
      }
    },
  };
}

/** A sink collecting everything written (tests). */
export function memorySink(isTTY = false): ProgressSink & { text: string } {
  const sink = {
    isTTY,
    text: '',
    write(t: string) {
      sink.text += t;
    },
  };
  return sink;
}
