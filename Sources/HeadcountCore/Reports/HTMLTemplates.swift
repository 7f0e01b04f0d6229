/// The Mustache templates of the HTML reports. `{{x}}` is HTML-escaped; the
/// only unescaped values are SVG built by `SVGChart` (`{{{chart}}}`), which
/// escapes its own text, and the all-teams table's rows
/// (`HTMLReport.allTeamsRows`), which escape theirs the same way.
enum HTMLTemplates {
    static let style = """
        <style>
        :root { --ink: #1f2328; --muted: #59636e; --line: #d1d9e0; --bg: #f6f8fa; --legacy: #0072B2; --global: #E69F00; }
        * { box-sizing: border-box; }
        body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
               color: var(--ink); margin: 0 auto; max-width: 1100px; padding: 24px; }
        h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 17px; margin: 28px 0 8px; border-bottom: 1px solid var(--line); padding-bottom: 4px; }
        .meta { color: var(--muted); margin: 0 0 16px; }
        .cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(160px, 1fr)); gap: 10px; }
        .card { border: 1px solid var(--line); border-radius: 6px; padding: 10px 12px; background: var(--bg); }
        .card .n { font-size: 20px; font-weight: 600; font-variant-numeric: tabular-nums; }
        .card .k { color: var(--muted); font-size: 12px; }
        .card.legacy { border-left: 4px solid var(--legacy); } .card.global { border-left: 4px solid var(--global); }
        table { border-collapse: collapse; width: 100%; margin: 8px 0; font-size: 13px; }
        th, td { padding: 4px 8px; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; }
        th { background: var(--bg); position: sticky; top: 0; }
        table.sortable th { cursor: pointer; } table.sortable th::after { content: " ↕"; color: var(--muted); font-size: 11px; }
        td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
        tbody tr:nth-child(even) { background: #fbfcfd; }
        .over { color: #b35806; font-weight: 600; }
        .note { color: var(--muted); font-size: 12px; }
        svg.chart { width: 100%; max-width: 760px; height: auto; display: block; margin: 8px 0; }
        svg .grid { stroke: #e5e9ee; } svg .tick, svg .value { font-size: 10px; fill: var(--muted); }
        svg .label, svg .legend { font-size: 11px; fill: var(--ink); } svg .axis { font-size: 11px; fill: var(--muted); }
        .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12px; word-break: break-all; }
        @page { size: A4; margin: 14mm; }
        @media print { body { max-width: none; padding: 0; font-size: 11px; } th { position: static; }
                       h2 { break-after: avoid; } tr, svg { break-inside: avoid; } }
        </style>
        """

    static let sortScript = """
        <script>
        document.querySelectorAll("table.sortable").forEach(function (table) {
          table.querySelectorAll("th").forEach(function (th, column) {
            th.addEventListener("click", function () {
              var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
              var numeric = th.classList.contains("n"), up = th.getAttribute("data-dir") !== "up";
              th.setAttribute("data-dir", up ? "up" : "down");
              rows.sort(function (a, b) {
                var x = a.cells[column].getAttribute("data-v") || a.cells[column].textContent;
                var y = b.cells[column].getAttribute("data-v") || b.cells[column].textContent;
                if (numeric) { x = Number(x); y = Number(y); }
                return (x < y ? -1 : x > y ? 1 : 0) * (up ? 1 : -1);
              });
              rows.forEach(function (r) { body.appendChild(r); });
            });
          });
        });
        </script>
        """

    /// The start of every page, to its `<h1>`: the page's `title`, the style sheet.
    static let top = """
        <!DOCTYPE html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>{{title}}</title>
        \(style)
        </head>
        <body>
        <h1>{{title}}</h1>
        """

    /// The end of every page: the script that sorts its tables.
    static let bottom = """
        \(sortScript)
        </body>
        </html>
        """

    static let report = """
        \(top)
        <p class="meta">Run {{runID}}{{#label}} · label “{{label}}”{{/label}}{{#asOf}} · contacts created at or before {{asOf}}{{/asOf}} · {{startedAt}} → {{finishedAt}} · headcount {{version}}</p>

        <div class="cards">
          <div class="card legacy"><div class="n">{{legacy}}</div><div class="k">legacy contacts (per audience)</div></div>
          <div class="card global"><div class="n">{{global}}</div><div class="k">global contacts (per email)</div></div>
          <div class="card"><div class="n">{{saving}} ({{savingPct}}%)</div><div class="k">duplicate records saved</div></div>
          <div class="card"><div class="n">{{contactRows}}</div><div class="k">contact rows</div></div>
          <div class="card"><div class="n">{{teamCount}}</div><div class="k">teams</div></div>
          <div class="card"><div class="n">{{audienceCount}}</div><div class="k">audiences</div></div>
          <div class="card"><div class="n">{{rejected}}</div><div class="k">rows rejected</div></div>
        </div>

        {{#hasTeams}}
        <h2>Legacy and global contacts, largest teams</h2>
        {{{chart}}}
        {{/hasTeams}}

        <h2>Audiences per email</h2>
        {{#hasEmails}}
        <p class="note">How many global contacts are in no audience, one, two, … : each extra audience was an extra legacy contact.</p>
        {{{histogram}}}
        {{/hasEmails}}
        {{^hasEmails}}<p>None: no email was counted.</p>{{/hasEmails}}

        {{#hasSavings}}
        <h2>Largest savings</h2>
        <table>
        <thead><tr><th>team</th><th class="n">legacy</th><th class="n">global</th><th class="n">saving</th><th class="n">%</th></tr></thead>
        <tbody>
        {{#savings}}<tr><td>{{team}}</td><td class="n">{{legacy.text}}</td><td class="n">{{global.text}}</td><td class="n">{{saving.text}}</td><td class="n">{{pct}}</td></tr>
        {{/savings}}
        </tbody>
        </table>
        {{/hasSavings}}

        {{#quotas}}
        <h2>Quotas</h2>
        <p>Over their contact limit: <strong>{{overLegacy}}</strong> teams under the legacy model, <strong>{{overGlobal}}</strong> under the global model.</p>
        <table class="sortable">
        <thead><tr><th>team</th><th>plan</th><th class="n">limit</th><th class="n">legacy</th><th>legacy</th><th class="n">global</th><th>global</th></tr></thead>
        <tbody>
        {{#teams}}<tr><td>{{team}}</td><td>{{plan}}</td><td class="n">{{limit}}</td><td class="n">{{legacy}}</td><td class="over">{{legacyOver}}</td><td class="n">{{global}}</td><td class="over">{{globalOver}}</td></tr>
        {{/teams}}
        </tbody>
        </table>
        {{/quotas}}

        {{#tiers}}
        <h2>Tiers and revenue</h2>
        <div class="cards">
          <div class="card legacy"><div class="n">{{revenueLegacy}}</div><div class="k">monthly revenue, legacy model</div></div>
          <div class="card global"><div class="n">{{revenueGlobal}}</div><div class="k">monthly revenue, global model</div></div>
          <div class="card"><div class="n">{{revenueChange}}</div><div class="k">change</div></div>
          <div class="card"><div class="n">{{changingCount}}</div><div class="k">teams changing tier</div></div>
        </div>
        <table class="sortable">
        <thead><tr><th>team</th><th>legacy tier</th><th>global tier</th><th class="n">legacy price</th><th class="n">global price</th><th class="n">change</th></tr></thead>
        <tbody>
        {{#teams}}<tr><td>{{team}}</td><td>{{legacyTier}}</td><td>{{globalTier}}</td><td class="n">{{legacyPrice}}</td><td class="n">{{globalPrice}}</td><td class="n">{{change}}</td></tr>
        {{/teams}}
        </tbody>
        </table>
        {{/tiers}}

        <h2>All teams</h2>
        {{#truncated}}<p class="note">The {{shownCount}} largest of {{teamCount}} teams, by legacy contacts; every team is in teams.csv.</p>{{/truncated}}
        <p class="note">Click a column to sort.</p>
        <table class="sortable">
        <thead><tr><th>team</th><th class="n">rows</th><th class="n">audiences</th><th class="n">legacy</th><th class="n">global</th><th class="n">saving</th><th class="n">%</th><th class="n">unsubscribed</th><th class="n">no audience</th><th class="n">rejected</th></tr></thead>
        <tbody>
        {{{teamRows}}}</tbody>
        </table>

        <h2>Rejected rows</h2>
        {{^hasRejects}}<p>None: every row was counted{{#filtered}} or filtered by the as-of date{{/filtered}}.</p>{{/hasRejects}}
        {{#hasRejects}}
        <p>{{rejected}} of {{rowsRead}} rows were rejected; each is in rejects.csv with its file, line, reason and text.</p>
        <table><thead><tr><th>reason</th><th class="n">rows</th></tr></thead><tbody>
        {{#reasons}}<tr><td>{{reason}}</td><td class="n">{{count}}</td></tr>
        {{/reasons}}
        </tbody></table>
        <p class="note">The first rejects (their text is left out of this page on purpose; see rejects.csv):</p>
        <table><thead><tr><th>file</th><th class="n">line</th><th>reason</th></tr></thead><tbody>
        {{#examples}}<tr><td class="mono">{{file}}</td><td class="n">{{line}}</td><td>{{reason}}</td></tr>
        {{/examples}}
        </tbody></table>
        {{/hasRejects}}

        <h2>Inputs</h2>
        <table><thead><tr><th>role</th><th>file</th><th>format</th><th class="n">bytes</th><th class="n">rows read</th><th class="n">counted</th><th class="n">rejected</th><th class="n">filtered</th></tr></thead><tbody>
        {{#inputs}}<tr><td>{{role}}</td><td class="mono">{{path}}</td><td>{{format}}</td><td class="n">{{bytes_read}}</td><td class="n">{{rows_read}}</td><td class="n">{{rows_counted}}</td><td class="n">{{rows_rejected}}</td><td class="n">{{rows_filtered}}</td></tr>
        {{/inputs}}
        </tbody></table>

        <h2>Rules</h2>
        <table><tbody>
        {{#rules}}<tr><th>{{name}}</th><td>{{value}}</td></tr>
        {{/rules}}
        </tbody></table>
        \(bottom)

        """

    static let compare = """
        \(top)
        <p class="meta">Before: run {{before.id}}{{#before.label}} (“{{before.label}}”){{/before.label}}, {{before.startedAt}} · After: run {{after.id}}{{#after.label}} (“{{after.label}}”){{/after.label}}, {{after.startedAt}}</p>
        <div class="cards">
          <div class="card legacy"><div class="n">{{beforeLegacy}}</div><div class="k">legacy contacts before</div></div>
          <div class="card global"><div class="n">{{afterGlobal}}</div><div class="k">global contacts after</div></div>
          <div class="card"><div class="n">{{migration}}{{#migrationPct}} ({{migrationPct}}%){{/migrationPct}}</div><div class="k">global after − legacy before</div></div>
          <div class="card"><div class="n">{{beforeGlobal}} → {{afterGlobal}}</div><div class="k">global contacts ({{change}})</div></div>
          <div class="card"><div class="n">{{teamsBefore}} → {{teamsAfter}}</div><div class="k">teams ({{addedCount}} added, {{removedCount}} removed)</div></div>
        </div>
        {{#hasChanges}}
        <h2>Largest changes in global contacts</h2>
        {{{chart}}}
        {{/hasChanges}}
        <h2>Teams added ({{addedCount}})</h2>
        {{^hasAdded}}<p>None: every team of the later run was in the earlier one.</p>{{/hasAdded}}
        {{#hasAdded}}
        <details><summary>Show the teams only in the later run</summary>
        <table><thead><tr><th>team</th><th class="n">legacy after</th><th class="n">global after</th></tr></thead><tbody>
        {{#added}}<tr><td>{{team}}</td><td class="n">{{afterLegacy.text}}</td><td class="n">{{afterGlobal.text}}</td></tr>
        {{/added}}
        </tbody></table>
        </details>
        {{/hasAdded}}
        <h2>Teams removed ({{removedCount}})</h2>
        {{^hasRemoved}}<p>None: every team of the earlier run is in the later one.</p>{{/hasRemoved}}
        {{#hasRemoved}}
        <details><summary>Show the teams only in the earlier run</summary>
        <table><thead><tr><th>team</th><th class="n">legacy before</th><th class="n">global before</th></tr></thead><tbody>
        {{#removed}}<tr><td>{{team}}</td><td class="n">{{beforeLegacy.text}}</td><td class="n">{{beforeGlobal.text}}</td></tr>
        {{/removed}}
        </tbody></table>
        </details>
        {{/hasRemoved}}
        <h2>All teams</h2>
        {{#truncated}}<p class="note">The first rows only; every team is in compare.csv.</p>{{/truncated}}
        <table class="sortable">
        <thead><tr><th>team</th><th>presence</th><th class="n">legacy before</th><th class="n">global before</th><th class="n">legacy after</th><th class="n">global after</th><th class="n">change</th><th class="n">%</th><th class="n">global after − legacy before</th><th class="n">%</th></tr></thead>
        <tbody>
        {{#teams}}<tr><td>{{team}}</td><td>{{presence}}</td><td class="n" data-v="{{beforeLegacy.v}}">{{beforeLegacy.text}}</td><td class="n" data-v="{{beforeGlobal.v}}">{{beforeGlobal.text}}</td><td class="n" data-v="{{afterLegacy.v}}">{{afterLegacy.text}}</td><td class="n" data-v="{{afterGlobal.v}}">{{afterGlobal.text}}</td><td class="n" data-v="{{change.v}}">{{change.text}}</td><td class="n">{{pct}}</td><td class="n" data-v="{{migration.v}}">{{migration.text}}</td><td class="n">{{migrationPct}}</td></tr>
        {{/teams}}
        </tbody>
        </table>
        \(bottom)

        """

    static let peak = """
        \(top)
        <p class="meta">The highest count of each team among the {{runCount}} complete runs whose as-of date (or start) falls from {{from}} to {{to}}, and the run it came from.</p>
        <div class="cards">
          <div class="card legacy"><div class="n">{{peakLegacy}}</div><div class="k">legacy contacts, sum of the teams' peaks</div></div>
          <div class="card global"><div class="n">{{peakGlobal}}</div><div class="k">global contacts, sum of the teams' peaks</div></div>
          <div class="card"><div class="n">{{teamCount}}</div><div class="k">teams</div></div>
          <div class="card"><div class="n">{{runCount}}</div><div class="k">runs</div></div>
        </div>
        <h2>Runs</h2>
        {{^hasRuns}}<p>None: no complete run falls in the period.</p>{{/hasRuns}}
        {{#hasRuns}}
        <table><thead><tr><th>run</th><th>label</th><th>as of</th><th>started</th></tr></thead><tbody>
        {{#runs}}<tr><td class="mono">{{id}}</td><td>{{label}}</td><td>{{asOf}}</td><td>{{startedAt}}</td></tr>
        {{/runs}}
        </tbody></table>
        {{/hasRuns}}
        <h2>Teams</h2>
        {{#truncated}}<p class="note">The first {{shownCount}} of {{teamCount}} teams; every team is in peak.csv.</p>{{/truncated}}
        <table class="sortable">
        <thead><tr><th>team</th><th class="n">peak legacy</th><th>run</th><th class="n">peak global</th><th>run</th></tr></thead>
        <tbody>
        {{#teams}}<tr><td>{{team}}</td><td class="n" data-v="{{legacy.v}}">{{legacy.text}}</td><td class="mono">{{legacyRun}}</td><td class="n" data-v="{{global.v}}">{{global.text}}</td><td class="mono">{{globalRun}}</td></tr>
        {{/teams}}
        </tbody>
        </table>
        \(bottom)

        """
}
