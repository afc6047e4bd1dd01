// Re-reads of the API, coalesced: at most one at a time and one per debounce window, however fast events come.
// A call while one runs asks for one more after it, so the last change is always read. No DOM.

// run(current) does the re-read; current() turns false once cancel() was called (the session ended).
export function coalesced(run, debounceMs) {
  let timer = null;
  let running = false;
  let again = false;
  let generation = 0;

  async function now() {
    if (running) {
      again = true;
      return;
    }
    running = true;
    const gen = generation;
    try {
      await run(() => gen === generation);
    } finally {
      running = false;
      if (again) {
        again = false;
        soon(); // for whichever session is current now: run() itself checks there is one
      }
    }
  }

  function soon() {
    if (timer !== null) return;
    timer = setTimeout(() => {
      timer = null;
      now();
    }, debounceMs);
  }

  function cancel() {
    generation += 1;
    clearTimeout(timer);
    timer = null;
  }

  return { now, soon, cancel };
}
