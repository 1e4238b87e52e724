// DOM writes for pictures redrawn ten times a second. Writing a node, even
// with what it already holds, makes the browser restyle and lay out the page
// again, which costs the renderer more than the pictures' own drawing (a
// profile of the page with one busy guest: most of the main thread's time
// was layout and paint). So nothing is written that would not change.

/** Sets `el`'s text unless it already reads `text`. */
export function setText(el: Node, text: string): void {
  if (el.textContent !== text) el.textContent = text;
}

/** Replaces `el`'s children with `nodes` unless they would show the same markup. */
export function replaceIfChanged(el: HTMLElement, nodes: Node[]): void {
  const box = document.createElement('div');
  box.append(...nodes);
  if (box.innerHTML !== el.innerHTML) el.replaceChildren(...box.childNodes);
}
