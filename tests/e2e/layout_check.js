// The layout guard's check of one page at the current viewport, in one round trip (tests/e2e/test_layout.py).
// Returns a list of problems: the document wider than the viewport, an element holding text squeezed under 40 px
// and broken over lines (a value printed one letter per line), a table whose columns are cut off with no cue that it scrolls.
() => {
  const problems = [];
  const viewport = document.documentElement.clientWidth;
  const describe = (el) => {
    const text = (el.textContent || "").trim().replace(/\s+/g, " ").slice(0, 40);
    return `<${el.tagName.toLowerCase()}${el.id ? "#" + el.id : ""}${el.classList.length ? "." + [...el.classList].join(".") : ""}> "${text}"`;
  };
  const shown = (el) => el.checkVisibility({ visibilityProperty: true }) && !el.closest(".visually-hidden, svg, select");
  // inside a box that scrolls or clips within the window: not what makes the page wide
  const clipped = (el) => {
    for (let box = el.parentElement; box && box !== document.body; box = box.parentElement) {
      if (getComputedStyle(box).overflowX !== "visible" && box.getBoundingClientRect().right <= viewport + 1) return true;
    }
    return false;
  };
  // how many lines the element's own text takes
  const lines = (el) => {
    const range = document.createRange();
    let count = 0;
    for (const node of el.childNodes) {
      if (node.nodeType !== Node.TEXT_NODE || !node.textContent.trim()) continue;
      range.selectNodeContents(node);
      count += new Set([...range.getClientRects()].filter((r) => r.width > 0).map((r) => Math.round(r.top))).size;
    }
    return count;
  };
  const all = [...document.body.querySelectorAll("*")];
  if (document.documentElement.scrollWidth > viewport) {
    // the innermost elements sticking out on the right are the ones to fix
    const out = all.filter((el) => shown(el) && el.getBoundingClientRect().right > viewport + 1 && !clipped(el));
    const innermost = out.filter((el) => !out.some((other) => other !== el && el.contains(other)));
    problems.push(`the page is ${document.documentElement.scrollWidth}px wide in a ${viewport}px window: ` +
      innermost.slice(0, 4).map(describe).join(", "));
  }
  for (const el of all) {
    const text = [...el.childNodes].filter((n) => n.nodeType === Node.TEXT_NODE).map((n) => n.textContent).join("").trim();
    if (text.length <= 3 || !shown(el)) continue;
    const box = el.getBoundingClientRect();
    // squeezed: under 40 px and broken over lines (a one-word link or a counter that fits on its line is fine)
    if (box.width > 0 && box.width < 40 && lines(el) > 1) {
      problems.push(`${describe(el)} is ${Math.round(box.width)}px wide, on ${lines(el)} lines`);
    }
  }
  for (const table of document.querySelectorAll("table")) {
    if (!shown(table)) continue;
    let box = table.parentElement;
    while (box && box !== document.body && getComputedStyle(box).overflowX === "visible") box = box.parentElement;
    if (!box || box === document.body || box.scrollWidth <= box.clientWidth + 1) continue;
    const style = getComputedStyle(box);
    const cue = style.backgroundImage.includes("gradient") && style.backgroundAttachment.includes("local") &&
      style.backgroundAttachment.includes("scroll") && ["auto", "scroll"].includes(style.overflowX);
    const first = table.querySelector("tr > :first-child");
    const kept = !first || getComputedStyle(first).position === "sticky";
    if (!cue || !kept) {
      problems.push(`${describe(table.querySelector("th") || table)}: the table is ${box.scrollWidth}px wide in ` +
        `${box.clientWidth}px and hides columns ${cue ? "without keeping its first column" : "with no sign that it scrolls"}`);
    }
  }
  return problems;
}
