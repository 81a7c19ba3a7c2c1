import { notesOnly, type Stage } from '../../stages/stage.js';
import { assertPreflightPassed, runPreflight } from './run.js';

/** Preflight checks of every connected host; any failure stops the run before anything changes. */
export function preflightStage(): Stage {
  return {
    id: 'preflight',
    title: 'Preflight checks',
    async plan({ session, model }) {
      assertPreflightPassed(session, await runPreflight(session, model));
      return notesOnly();
    },
  };
}
