import { Marked, type Tokens } from 'marked';

/** Tags report.md writes on purpose; any other HTML in it (e.g. inside a server's error message) is shown as text. */
const ALLOWED_TAGS = /(<\/?(?:details|summary)>)/i;

const escapeHtml = (text: string): string => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/**
 * Gives each chart's SVG ids their own prefix: several SVGs inline in one page share one id space, and vega names its
 * clip paths and gradients alike in every chart.
 */
export function isolateIds(svg: string, prefix: string): string {
  return svg
    .replace(/\bid="([^"]+)"/g, `id="${prefix}-$1"`)
    .replace(/url\(#([^)]+)\)/g, `url(#${prefix}-$1)`)
    .replace(/href="#([^"]+)"/g, `href="#${prefix}-$1"`);
}

const STYLE = `
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 1100px; padding: 12px 16px 48px; font: 15px/1.5 -apple-system, "Segoe UI", "Liberation Sans", Arial, sans-serif; color: #1f2328; background: #fff; }
h1 { font-size: 1.6em; border-bottom: 1px solid #d0d7de; padding-bottom: .3em; overflow-wrap: anywhere; }
h2 { font-size: 1.35em; border-bottom: 1px solid #d0d7de; padding-bottom: .25em; margin-top: 1.6em; }
h3 { font-size: 1.15em; margin-top: 1.4em; overflow-wrap: anywhere; }
h4 { font-size: 1em; }
code { font: 0.9em/1.4 ui-monospace, "Liberation Mono", Menlo, monospace; background: #f6f8fa; padding: .1em .3em; border-radius: 4px; overflow-wrap: anywhere; }
pre { background: #f6f8fa; padding: 10px; overflow-x: auto; border-radius: 6px; }
pre code { background: none; padding: 0; }
.table { overflow-x: auto; margin: 0 0 1em; -webkit-overflow-scrolling: touch; }
table { border-collapse: collapse; font-size: 13px; font-variant-numeric: tabular-nums; }
th, td { border: 1px solid #d0d7de; padding: 4px 8px; white-space: nowrap; }
th { background: #f6f8fa; }
tr:nth-child(2n) td { background: #fbfcfd; }
figure.chart { margin: 1em 0 1.5em; }
figure.chart svg { display: block; max-width: 100%; height: auto; }
figure.chart figcaption { font-size: 12px; color: #57606a; }
details { margin: 1em 0; }
li { overflow-wrap: anywhere; }
@media (max-width: 600px) { body { font-size: 14px; padding: 8px 10px 32px; } table { font-size: 12px; } }
`;

/**
 * report.html: report.md's sections as one self-contained page (CSS and every chart's SVG inline, no script, nothing
 * fetched), readable at phone width (wide tables scroll sideways inside the page, charts shrink to fit). `svgs`: chart
 * file → SVG text; an image of report.md that names one of them becomes that SVG inline. The mermaid block (a chart
 * only GitHub draws) is left out: the charts show the same means.
 */
export function renderHtml(markdown: string, svgs: ReadonlyMap<string, string>, title: string): string {
  let n = 0;
  const marked = new Marked({
    gfm: true,
    async: false,
    renderer: {
      code({ text, lang }: Tokens.Code): string {
        if (lang === 'mermaid') return '';
        return `<pre><code>${escapeHtml(text)}</code></pre>\n`;
      },
      html({ text }: Tokens.HTML | Tokens.Tag): string {
        return text.split(ALLOWED_TAGS).map((part, i) => (i % 2 === 1 ? part.toLowerCase() : escapeHtml(part))).join('');
      },
      // No link in the page: a report has none of its own, and none may come from a name or a reply.
      link({ tokens }: Tokens.Link): string {
        return this.parser.parseInline(tokens);
      },
      image({ href, text }: Tokens.Image): string {
        const svg = svgs.get(href);
        if (svg === undefined) return escapeHtml(`[chart not rendered: ${text}]`);
        n += 1;
        return `</p><figure class="chart" data-chart="${escapeHtml(href)}" role="img" aria-label="${escapeHtml(text)}">${isolateIds(svg, `chart${n}`)}<figcaption>${escapeHtml(text)}</figcaption></figure><p>`;
      },
    },
  });
  const body = (marked.parse(markdown) as string)
    .replace(/<p><\/p>\n?/g, '')
    .replace(/<table>/g, '<div class="table"><table>')
    .replace(/<\/table>/g, '</table></div>');
  return [
    '<!doctype html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    // No network: nothing of this page may be fetched, not even by a stray URL in a result.
    '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; style-src \'unsafe-inline\'; img-src data:">',
    `<title>${escapeHtml(title)}</title>`,
    `<style>${STYLE}</style>`,
    '</head>',
    '<body>',
    body,
    '</body>',
    '</html>',
    '',
  ].join('\n');
}
