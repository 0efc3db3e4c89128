// Turns the bar's events into a readable timeline: one line per event, with
// the bar time, what happened, and a compact row of the rooms and the door.
//
//    4.0 s  guest 9 starts singing in room 1 (waited 4.0 s)    [  9  6  7  8 ]  11
import type { BarEvent, BarOptions, BarSummary, HttpAnswer } from './bar.js';

/** Seconds with one decimal: `4.0 s`. */
export function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

export function describeEvent(event: BarEvent): string {
  switch (event.type) {
    case 'waits':
      return `guest ${event.guest} waits at the door`;
    case 'starts':
      return `guest ${event.guest} starts singing in room ${event.room} (waited ${seconds(event.waitedMs)})`;
    case 'finishes':
      return `guest ${event.guest} finishes in room ${event.room}`;
    case 'turned-away':
      return `guest ${event.guest} is turned away: ${event.status === undefined ? 'line full' : answer(event)} (${event.code})`;
    case 'gives-up':
      return event.status === undefined
        ? `guest ${event.guest} gives up after ${seconds(event.waitedMs)} (${event.code})`
        : `guest ${event.guest} gives up after ${seconds(event.waitedMs)}: ${answer(event)} (${event.code})`;
  }
}

/** An HTTP rejection as the guest saw it: `503, Retry-After: 2`. */
function answer(event: HttpAnswer): string {
  return `${event.status}, Retry-After: ${event.retryAfter ?? '(none)'}`;
}

export interface TimelineOptions {
  /** Width of the event column; default fits the usual lines of the bar without HTTP. */
  eventWidth?: number;
}

export class Timeline {
  private readonly guestWidth: number;
  private readonly eventWidth: number;

  constructor(
    private readonly options: BarOptions,
    layout: TimelineOptions = {},
  ) {
    this.guestWidth = String(options.guests).length;
    // Wide enough for the longest usual line, "guest 20 starts singing in room 4 (waited 16.0 s)".
    this.eventWidth = layout.eventWidth ?? 45 + 2 * this.guestWidth + String(options.rooms).length;
  }

  header(): string[] {
    const { guests, rooms, songMs, speed, line, patienceMs } = this.options;
    const rules = [
      line === undefined ? 'the line at the door has no limit' : `at most ${line} in line`,
      patienceMs === undefined
        ? 'guests wait as long as it takes'
        : `guests give up after ${seconds(patienceMs)}`,
    ];
    const lines = [
      `The karaoke bar opens: ${rooms} rooms, ${guests} guests, each sings for ${seconds(songMs)}; ${rules.join(', ')}.`,
    ];
    if (speed !== 1) lines.push(`(played ${speed}x faster than real time; times are bar time)`);
    lines.push('', this.columns());
    return lines;
  }

  /** The column titles above the event lines. */
  columns(): string {
    const roomsColumn = 'rooms'.padEnd(2 + this.options.rooms * (this.guestWidth + 1));
    return `${'time'.padStart(7)}  ${'event'.padEnd(this.eventWidth)}  ${roomsColumn}  at the door`;
  }

  line(event: BarEvent): string {
    const cells = event.rooms.map((guest) =>
      (guest === undefined ? '·' : String(guest)).padStart(this.guestWidth + 1),
    );
    return `${seconds(event.at).padStart(7)}  ${describeEvent(event).padEnd(this.eventWidth)}  [${cells.join('')} ]  ${event.waiting}`;
  }

  footer(summary: BarSummary, realMs: number): string[] {
    const { songMs, speed } = this.options;
    const rounds = summary.totalMs / songMs;
    const lines = [
      '',
      `${summary.guests} guests: ${summary.sang} sang, ${summary.turnedAway} turned away, ${summary.gaveUp} gave up; at most ${summary.mostAtOnce} sang at once.`,
      `Total: ${seconds(summary.totalMs)}, ${rounds.toFixed(1)} songs long; mean wait ${seconds(summary.meanWaitMs)}.`,
    ];
    if (speed !== 1) lines.push(`(${seconds(realMs)} of real time)`);
    return lines;
  }
}
