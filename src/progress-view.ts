// Thin adapters drawing the run's progress on stderr: a live display redrawn in place on a terminal, a plain log
// line every --progress-interval seconds elsewhere. The state and the text come from the pure src/progress.ts.
import type { Logger } from 'pino';
import {
  applyEvent,
  initialState,
  progressLine,
  renderProgress,
  totals,
  type ProgressListener,
} from './progress.js';

/** Colours or not: --no-color (flag false) turns them off; else FORCE_COLOR decides when set (0 or false: off,
 * anything else: on; over NO_COLOR, as in Node itself); else NO_COLOR (any non-empty value, no-color.org) turns
 * them off; else a terminal has them. */
export function colorEnabled(env: NodeJS.ProcessEnv, isTTY: boolean, flag?: boolean): boolean {
  if (flag === false) return false;
  const force = env.FORCE_COLOR;
  if (force !== undefined) return force !== '0' && force.toLowerCase() !== 'false';
  if (env.NO_COLOR) return false;
  return isTTY;
}

export interface ProgressView {
  listener: ProgressListener;
  /** for the logger on a terminal: clears the display, writes the line, draws the display again */
  destination?: { write(line: string): unknown };
  /** stops the timer and clears the display */
  stop(): void;
}

export interface ViewOptions {
  stream: NodeJS.WriteStream;
  color: boolean;
  /** seconds between plain lines off a terminal */
  intervalS: number;
  /** the logger the plain lines go through (set once the logger exists) */
  log(): Logger;
  now?: () => number;
}

const REDRAW_MS = 200;

/** A live display when the stream is a terminal, else a plain line every intervalS seconds. */
export function startProgress(o: ViewOptions): ProgressView {
  const now = o.now ?? Date.now;
  const state = initialState(now());
  const listener: ProgressListener = (e) => applyEvent(state, e, now());
  if (!o.stream.isTTY) {
    const timer = setInterval(() => {
      if (state.files === 0) return; // the run has not started: nothing to say yet
      const t = totals(state, now());
      o.log().info(
        {
          progress: {
            filesDone: t.filesDone,
            files: state.files,
            bytesDone: t.bytesDone,
            bytes: state.bytes,
            rowsDone: t.rowsDone,
            etaS: t.etaS === undefined ? null : Math.round(t.etaS),
          },
        },
        progressLine(state, now()),
      );
    }, o.intervalS * 1000);
    timer.unref();
    return { listener, stop: () => clearInterval(timer) };
  }
  let drawn = 0;
  const erase = (): void => {
    // to the start of the first drawn line, then clear to the end of the screen
    if (drawn > 0) o.stream.write(`\x1b[${drawn}F\x1b[J`);
    drawn = 0;
  };
  const draw = (): void => {
    if (state.files === 0) return;
    const lines = renderProgress(state, now(), { width: (o.stream.columns || 80) - 1, color: o.color });
    erase();
    o.stream.write(lines.join('\n') + '\n');
    drawn = lines.length;
  };
  const timer = setInterval(draw, REDRAW_MS);
  timer.unref();
  return {
    listener,
    destination: {
      write(line: string) {
        const had = drawn > 0;
        erase();
        o.stream.write(line);
        if (had) draw();
        return true;
      },
    },
    stop() {
      clearInterval(timer);
      erase();
    },
  };
}
