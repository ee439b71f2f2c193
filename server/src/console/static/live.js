// The console's live updates (ADR 0032): on the review queue, the visit log and the orders
// board, what phones bring in appears without a reload. The relay's live channel
// (/console/live) says when something of the station changed; this script then fetches
// the same page and puts its fresh list in place. Without the script every page works as
// it is. It is the only script the content security policy lets run (by its hash).
(() => {
  'use strict';
  const main = document.querySelector('main[data-live]');
  if (!main || !window.EventSource || !window.fetch || !window.DOMParser) return;

  const status = document.createElement('p');
  status.className = 'live-status';
  status.setAttribute('role', 'status');
  status.dataset.testid = 'live-status';
  const say = (words, link) => {
    status.replaceChildren(words);
    if (link) {
      const again = document.createElement('a');
      again.href = location.href;
      again.textContent = link;
      status.append(' ', again);
    }
  };
  say(main.dataset.liveOn);
  main.prepend(status);

  // A coordinator typing a reason or choosing a volunteer keeps the page as it is.
  let typing = false;
  main.addEventListener('input', () => { typing = true; });
  const busy = () => typing || (main.contains(document.activeElement) && document.activeElement.matches('input, textarea, select'));

  let fetching = false;
  let again = false;
  const refresh = async () => {
    if (fetching) { again = true; return; }
    if (busy()) { say(main.dataset.liveStale, main.dataset.liveReload); return; }
    fetching = true;
    again = false;
    try {
      const answer = await fetch(location.href, { headers: { 'X-Timebank-Live': '1' }, credentials: 'same-origin' });
      const fresh = answer.ok && new DOMParser().parseFromString(await answer.text(), 'text/html').querySelector('main[data-live]');
      if (fresh && !busy()) {
        // The message of the coordinator's last action stays until they act again.
        const flash = main.querySelector(':scope > .flash');
        if (flash && !fresh.querySelector(':scope > .flash')) fresh.prepend(flash);
        main.replaceChildren(status, ...fresh.childNodes);
        say(main.dataset.liveUpdated.replace('{time}', new Date().toLocaleTimeString()));
      } else if (fresh) {
        say(main.dataset.liveStale, main.dataset.liveReload);
      }
    } catch (_) {
      say(main.dataset.liveStale, main.dataset.liveReload);
    } finally {
      fetching = false;
      if (again) refresh();
    }
  };

  const channel = new EventSource('/console/live');
  let greeted = false;
  channel.addEventListener('hello', () => {
    // After a lost connection, catch up on what came meanwhile.
    if (greeted) refresh();
    greeted = true;
    main.toggleAttribute('data-live-connected', true);
  });
  channel.addEventListener('error', () => main.toggleAttribute('data-live-connected', false));
  channel.addEventListener('changed', refresh);
  channel.addEventListener('closed', (event) => {
    let reason = '';
    try { reason = JSON.parse(event.data).reason; } catch (_) { /* unreadable: stop */ }
    // A relay restarting is found again (the browser reconnects); anything else ends here.
    if (reason !== 'shutting-down') {
      channel.close();
      say(main.dataset.liveOff, main.dataset.liveReload);
    }
  });
})();
