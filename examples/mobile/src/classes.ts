// The class list: one row per class with its label button, a strip of this session's example thumbnails, rename and delete; the case-insensitive duplicate check.
import { ui } from './ui.js';

/** A class as the list shows it. */
export interface ClassRow {
  readonly name: string;
  readonly examples: number;
  /** Thumbnails (data URLs) of the examples taught in this page session. */
  readonly thumbs: readonly string[];
}

/** What the rows do when used. */
export interface ClassActions {
  label(name: string): void;
  rename(name: string): void;
  remove(name: string): void;
}

/** The existing class that `name` duplicates, ignoring case and surrounding space (`except` is the class being renamed). */
export function duplicateOf(name: string, existing: readonly string[], except?: string): string | undefined {
  const n = name.trim().toLocaleLowerCase();
  return existing.find((c) => c !== except && c.toLocaleLowerCase() === n);
}

/** Why `name` cannot be a new class name, or undefined when it can. */
export function nameProblem(name: string, existing: readonly string[], except?: string): string | undefined {
  const n = name.trim();
  if (!n) return 'Type a name.';
  if (n.length > 24) return 'Keep the name under 25 characters.';
  const dup = duplicateOf(n, existing, except);
  if (dup) return `“${dup}” already exists (names are compared without case).`;
  return undefined;
}

/**
 * Renders the rows. The element that had focus (a label, rename or delete button of a class) gets
 * it back after the list is rebuilt, so Enter on a class keeps the keyboard where it was.
 */
export function renderClasses(
  rows: readonly ClassRow[],
  o: { top?: string | undefined; canLabel: boolean; actions: ClassActions },
): void {
  const active = document.activeElement as HTMLElement | null;
  const focusKey =
    active && ui.classes.contains(active) ? `${active.dataset['action']}:${active.dataset['class']}` : undefined;
  ui.classes.replaceChildren(
    ...rows.map((r) => {
      const li = document.createElement('li');
      li.className = 'cls-row';
      const b = document.createElement('button');
      b.type = 'button';
      b.className = `cls${r.name === o.top ? ' top' : ''}`;
      b.dataset['class'] = r.name;
      b.dataset['action'] = 'label';
      b.dataset['examples'] = String(r.examples);
      // No aria-label: the accessible name is the visible text (name and count), as WCAG 2.5.3 asks.
      b.append(
        Object.assign(document.createElement('span'), { className: 'cls-name', textContent: r.name }),
        Object.assign(document.createElement('small'), {
          textContent: ` ${r.examples} example${r.examples === 1 ? '' : 's'}`,
        }),
      );
      b.disabled = !o.canLabel;
      b.addEventListener('click', () => o.actions.label(r.name));
      const strip = document.createElement('div');
      strip.className = 'strip';
      strip.dataset['class'] = r.name;
      for (const [i, t] of r.thumbs.slice(-8).entries())
        strip.append(
          Object.assign(document.createElement('img'), {
            src: t,
            alt: `${r.name} example ${i + 1}`,
            width: 32,
            height: 32,
          }),
        );
      const tools = document.createElement('div');
      tools.className = 'tools';
      for (const [action, text, fn] of [
        ['rename', 'Rename', o.actions.rename],
        ['delete', 'Delete', o.actions.remove],
      ] as const) {
        const t = document.createElement('button');
        t.type = 'button';
        t.className = 'btn small';
        t.dataset['class'] = r.name;
        t.dataset['action'] = action;
        // The visible word comes first in the name; the class makes it unique for a screen reader.
        t.setAttribute('aria-label', `${text} ${r.name}`);
        t.textContent = text;
        t.addEventListener('click', () => fn(r.name));
        tools.append(t);
      }
      li.append(b, tools, strip);
      return li;
    }),
  );
  if (focusKey) {
    const at = focusKey.indexOf(':');
    const action = focusKey.slice(0, at);
    const name = focusKey.slice(at + 1);
    const again = [...ui.classes.querySelectorAll<HTMLElement>('button')].find(
      (e) => e.dataset['action'] === action && e.dataset['class'] === name,
    );
    again?.focus();
  }
}
