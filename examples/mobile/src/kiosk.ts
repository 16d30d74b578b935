// Kiosk mode: full screen, a home screen the app returns to after N seconds idle, and no way out of the app's screens without the admin gesture (and PIN).

/** How long the title must be held for the admin prompt. */
const ADMIN_HOLD_MS = 2000;

/** What the kiosk needs from the app. */
export interface KioskHooks {
  /** Back to the home screen: the app clears the visitor's session when it keeps nothing. */
  readonly onIdle: () => void;
  /** The admin held the title: ask for the PIN and leave kiosk mode when it is right. */
  readonly onAdmin: () => void;
}

/** Runs kiosk mode on the page; returns a function that stops it. */
export function startKiosk(idleSeconds: number, hooks: KioskHooks): { stop(): void; touch(): void } {
  document.body.classList.add('kiosk');
  document.body.dataset['kiosk'] = '1';
  const home = document.getElementById('home')!;
  const start = document.getElementById('home-start') as HTMLButtonElement;
  const title = document.getElementById('title')!;
  let timer = 0;
  const arm = (): void => {
    clearTimeout(timer);
    timer = window.setTimeout(() => {
      showHome();
      hooks.onIdle();
    }, idleSeconds * 1000);
  };
  const showHome = (): void => {
    home.hidden = false;
    document.body.dataset['home'] = '1';
    start.focus();
  };
  const enter = (): void => {
    home.hidden = true;
    delete document.body.dataset['home'];
    // A user gesture: the one moment the browser lets a page go full screen.
    if (!document.fullscreenElement)
      void document.documentElement.requestFullscreen?.({ navigationUI: 'hide' }).catch(() => undefined);
    arm();
  };
  start.addEventListener('click', enter);
  const activity = (): void => {
    if (home.hidden) arm();
  };
  const events = ['pointerdown', 'keydown', 'wheel', 'touchstart'] as const;
  for (const e of events) addEventListener(e, activity, { passive: true, capture: true });
  // Leaving full screen (Esc, a system gesture) lands on the home screen, whose button re-enters it.
  const onFs = (): void => {
    if (!document.fullscreenElement && home.hidden && document.body.dataset['fullscreenOnce']) showHome();
    if (document.fullscreenElement) document.body.dataset['fullscreenOnce'] = '1';
  };
  document.addEventListener('fullscreenchange', onFs);
  // Back navigation stays in the app.
  history.pushState({ kiosk: true }, '');
  const onPop = (): void => history.pushState({ kiosk: true }, '');
  addEventListener('popstate', onPop);
  const noMenu = (e: Event): void => e.preventDefault();
  addEventListener('contextmenu', noMenu);
  // The admin gesture: hold the title.
  let hold = 0;
  const down = (): void => {
    hold = window.setTimeout(hooks.onAdmin, ADMIN_HOLD_MS);
  };
  const up = (): void => clearTimeout(hold);
  title.addEventListener('pointerdown', down);
  for (const e of ['pointerup', 'pointerleave', 'pointercancel'] as const) title.addEventListener(e, up);
  showHome();
  return {
    touch: arm,
    stop() {
      clearTimeout(timer);
      for (const e of events) removeEventListener(e, activity, { capture: true });
      document.removeEventListener('fullscreenchange', onFs);
      removeEventListener('popstate', onPop);
      removeEventListener('contextmenu', noMenu);
      title.removeEventListener('pointerdown', down);
      start.removeEventListener('click', enter);
      home.hidden = true;
      document.body.classList.remove('kiosk');
      delete document.body.dataset['kiosk'];
      delete document.body.dataset['home'];
      if (document.fullscreenElement) void document.exitFullscreen().catch(() => undefined);
    },
  };
}
