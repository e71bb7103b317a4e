//! The status page as HTML: one server-rendered document, no script, no external asset
//! (the style sheet is inline), readable on a phone (viewport meta, one column that
//! wraps, tables that scroll sideways). Every value from outside the code (names,
//! subjects, problems, the lookup's input) is escaped with [`escape`].

use super::lookup::LookupResult;
use super::snapshot::{IssuerStatus, Quantiles, StatusSnapshot};
use std::fmt::Write;

/// `&`, `<`, `>`, `"` and `'` as character references: safe in text and in quoted
/// attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "\
*{box-sizing:border-box}\
body{font:15px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0;padding:12px;color:#1d2330;background:#f4f6f9;max-width:1100px;margin:auto}\
h1{font-size:1.3em;margin:.2em 0 .6em}h2{font-size:1.05em;margin:.2em 0 .5em}\
section{background:#fff;border:1px solid #dde2ea;border-radius:8px;padding:10px 12px;margin:10px 0}\
.badge{display:inline-block;padding:2px 9px;border-radius:999px;font-weight:600;font-size:.9em}\
.ok{background:#d9f2e0;color:#115a2b}.bad{background:#fbe0e0;color:#8a1616}.warn{background:#fff1cc;color:#6b4c00}\
.scroll{overflow-x:auto}table{border-collapse:collapse;width:100%}\
th,td{text-align:left;padding:4px 8px;border-bottom:1px solid #eef1f5;vertical-align:top}\
th{font-weight:600;color:#4a5568;white-space:nowrap}td.n{text-align:right;font-variant-numeric:tabular-nums}\
code,.mono{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.92em;word-break:break-all}\
ul.problems{margin:.3em 0;padding-left:1.2em;color:#8a1616}\
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:8px}\
.kv{background:#f8f9fb;border-radius:6px;padding:6px 8px}.kv b{display:block;font-size:1.25em}\
form{display:flex;flex-wrap:wrap;gap:8px;align-items:end}label{display:flex;flex-direction:column;font-size:.9em;gap:2px}\
input,select,button{font:inherit;padding:6px 8px;border:1px solid #c5ccd8;border-radius:6px}\
button{background:#1f5fbf;color:#fff;border-color:#1f5fbf}\
.answer{font-size:1.4em;font-weight:700}.muted{color:#687386;font-size:.9em}";

fn badge(ok: bool, yes: &str, no: &str) -> String {
    if ok {
        format!("<span class=\"badge ok\">{}</span>", escape(yes))
    } else {
        format!("<span class=\"badge bad\">{}</span>", escape(no))
    }
}

fn rate(x: f64) -> String {
    if x >= 100.0 {
        format!("{x:.0}/s")
    } else if x >= 1.0 {
        format!("{x:.1}/s")
    } else {
        format!("{x:.2}/s")
    }
}

fn quantiles(q: &Option<Quantiles>) -> String {
    match q {
        Some(q) if q.count > 0 => format!(
            "p50 {:.2} ms · p90 {:.2} ms · p99 {:.2} ms ({} observed)",
            q.p50, q.p90, q.p99, q.count
        ),
        _ => "no observation in the window".into(),
    }
}

fn kv(out: &mut String, label: &str, value: &str) {
    let _ = write!(
        out,
        "<div class=\"kv\">{}<b>{}</b></div>",
        escape(label),
        escape(value)
    );
}

fn issuer_row(out: &mut String, i: &IssuerStatus) {
    let expiry_class = if i.days_to_expiry < 7 {
        "bad"
    } else if i.days_to_expiry < 30 {
        "warn"
    } else {
        "ok"
    };
    let signer = match i.signer_ready {
        Some(true) => badge(true, "ready", ""),
        Some(false) => badge(false, "", "not ready"),
        None => "<span class=\"badge warn\">not checked yet</span>".into(),
    };
    let backend = match (&i.generation, &i.backend_error) {
        (Some(g), _) => format!("{} · generation {g}", badge(true, "up", "")),
        (None, Some(e)) => format!("{} {}", badge(false, "", "down"), escape(e)),
        (None, None) => badge(false, "", "down"),
    };
    let reload = match &i.last_reload {
        Some(r) => format!(
            "{} at {} · {} entries, {} revoked · data read {}{}",
            if r.ok {
                "reloaded"
            } else {
                "<b>reload failed</b> (last good state served)"
            },
            escape(&r.attempted_at),
            r.entries,
            r.revoked,
            escape(&r.loaded_at),
            if r.failures > 0 {
                format!(" · {} failed reloads", r.failures)
            } else {
                String::new()
            }
        ),
        None => "not reported".into(),
    };
    let mut rollover = String::new();
    if i.responder_reload_ok == Some(false) {
        rollover.push_str("<div><b>the last reload refused a new responder certificate or key</b> (the pair in force stays; the log says why)</div>");
    }
    if let Some(at) = &i.next_responder_at {
        let _ = write!(
            rollover,
            "<div class=\"muted\">the next responder certificate takes over at {}</div>",
            escape(at)
        );
    }
    let _ = write!(
        out,
        "<section class=\"issuer\"><h2>{name}</h2><div class=\"scroll\"><table>\
<tr><th>CA</th><td class=\"mono\">{ca}</td></tr>\
<tr><th>Responder</th><td class=\"mono\">{resp}{deleg}{rollover}</td></tr>\
<tr><th>Expires</th><td><span class=\"badge {expiry_class}\">{days} days</span> {not_after}</td></tr>\
<tr><th>Signer</th><td>{signer} {signer_desc}</td></tr>\
<tr><th>Backend</th><td>{backend}<div class=\"muted\">{backend_desc}</div></td></tr>\
<tr><th>Last reload</th><td>{reload}</td></tr>\
<tr><th>Validity</th><td>{validity} s</td></tr>\
</table></div></section>",
        name = escape(&i.name),
        ca = escape(&i.ca_subject),
        resp = escape(&i.responder_subject),
        deleg = if i.delegated { " (delegated)" } else { " (the CA signs)" },
        days = i.days_to_expiry,
        not_after = escape(&i.responder_not_after),
        signer_desc = escape(&i.signer),
        backend_desc = escape(&i.backend),
        validity = i.validity_secs,
    );
}

fn lookup_section(out: &mut String, s: &StatusSnapshot) {
    let asked = s.lookup.as_ref();
    let chosen = asked.and_then(|l| l.issuer.clone());
    out.push_str("<section id=\"lookup\"><h2>Look up a serial</h2>\
<p class=\"muted\">What the responder would answer now, from the status backend; no signature is made.</p>\
<form method=\"get\" action=\"/\"><label>Issuer<select name=\"issuer\">");
    for i in &s.issuers {
        let sel = if chosen.as_deref() == Some(i.name.as_str()) {
            " selected"
        } else {
            ""
        };
        let _ = write!(
            out,
            "<option value=\"{v}\"{sel}>{v}</option>",
            v = escape(&i.name)
        );
    }
    let _ = write!(
        out,
        "</select></label><label>Serial (hex)<input name=\"serial\" id=\"serial\" value=\"{}\" \
placeholder=\"1000\" autocomplete=\"off\" spellcheck=\"false\" maxlength=\"200\"></label>\
<button type=\"submit\">Look up</button></form>",
        escape(asked.map(|l| l.serial.as_str()).unwrap_or(""))
    );
    if let Some(l) = asked {
        result(out, l);
    }
    out.push_str("</section>");
}

fn result(out: &mut String, l: &LookupResult) {
    let class = match l.answer.as_str() {
        "good" => "ok",
        "revoked" | "invalid" | "unauthorized" => "bad",
        _ => "warn",
    };
    let _ = write!(
        out,
        "<div id=\"lookup-result\" data-answer=\"{a}\"><p>Serial <code>{serial}</code>{issuer}: \
<span class=\"answer badge {class}\">{a}</span></p>",
        a = escape(&l.answer),
        serial = escape(l.serial_hex.as_deref().unwrap_or(&l.serial)),
        issuer = l
            .issuer
            .as_ref()
            .map(|i| format!(" of {}", escape(i)))
            .unwrap_or_default(),
    );
    if let Some(t) = &l.revocation_time {
        let _ = write!(
            out,
            "<p>Revoked at {}{}</p>",
            escape(t),
            l.revocation_reason
                .as_ref()
                .map(|r| format!(", reason {}", escape(r)))
                .unwrap_or_default()
        );
    }
    let _ = write!(
        out,
        "<p class=\"muted\">{}{}</p></div>",
        escape(&l.detail),
        l.generation
            .map(|g| format!(" (generation {g})"))
            .unwrap_or_default()
    );
}

/// The whole page.
pub fn render(s: &StatusSnapshot) -> String {
    let mut out = String::with_capacity(8192);
    let _ = write!(
        out,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>ocsp status{}</title><style>{STYLE}</style></head><body>",
        if s.ready { "" } else { " (not ready)" }
    );
    let build = s
        .build
        .as_ref()
        .map(|b| {
            format!(
                "ocsp {} · commit {} · features {} · profile {}",
                b.version, b.commit, b.features, b.profile
            )
        })
        .unwrap_or_else(|| "ocsp".into());
    let _ = write!(
        out,
        "<h1>OCSP responder {}</h1><p class=\"muted\">{} · {} · \
<a href=\"/status.json\">status.json</a> · <a href=\"/metrics\">metrics</a> · \
<a href=\"/readyz\">readyz</a></p>",
        badge(s.ready, "ready", "not ready"),
        escape(&build),
        escape(&s.generated_at),
    );
    if !s.problems.is_empty() {
        out.push_str("<section id=\"problems\"><h2>Problems</h2><ul class=\"problems\">");
        for p in &s.problems {
            let _ = write!(out, "<li>{}</li>", escape(p));
        }
        out.push_str("</ul></section>");
    }
    out.push_str("<section id=\"traffic\"><h2>Traffic</h2>");
    match &s.requests {
        Some(r) => {
            out.push_str("<div class=\"grid\">");
            kv(&mut out, "requests", &rate(r.per_second));
            kv(&mut out, "since start", &r.total.to_string());
            if let Some(c) = &s.cache {
                kv(
                    &mut out,
                    "cache hit ratio",
                    &c.hit_ratio
                        .map(|x| format!("{:.1} %", x * 100.0))
                        .unwrap_or_else(|| "–".into()),
                );
                kv(&mut out, "cached answers", &c.entries.to_string());
            }
            if let Some(g) = &s.signing {
                kv(&mut out, "signing queue", &g.queue_depth.to_string());
                kv(&mut out, "signatures", &rate(g.per_second));
            }
            out.push_str("</div>");
            let _ = write!(
                out,
                "<p class=\"muted\">Rates over {}.</p>",
                if r.since_start {
                    format!(
                        "{:.0} s since start (reload for the recent rate)",
                        r.window_secs
                    )
                } else {
                    format!("the last {:.0} s", r.window_secs)
                }
            );
            out.push_str("<div class=\"scroll\"><table><tr><th>outcome</th><th>rate</th><th>since start</th></tr>");
            for o in &r.outcomes {
                let _ = write!(
                    out,
                    "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
                    escape(&o.outcome),
                    rate(o.per_second),
                    o.total
                );
            }
            if r.outcomes.is_empty() {
                out.push_str("<tr><td colspan=\"3\" class=\"muted\">no request yet</td></tr>");
            }
            out.push_str("</table></div>");
            let _ = write!(
                out,
                "<p>Request latency: {}</p>",
                escape(&quantiles(&r.latency_ms))
            );
            if let Some(g) = &s.signing {
                let _ = write!(
                    out,
                    "<p>Signing latency: {} · {} refused (queue full) since start</p>",
                    escape(&quantiles(&g.latency_ms)),
                    g.rejected
                );
            }
            if let Some(c) = &s.cache {
                let _ = write!(
                    out,
                    "<p class=\"muted\">Cache since start: {} hits, {} misses, {} evictions.</p>",
                    c.hits, c.misses, c.evictions
                );
            }
        }
        None => out.push_str("<p class=\"muted\">metrics are not recorded</p>"),
    }
    out.push_str("</section>");
    for i in &s.issuers {
        issuer_row(&mut out, i);
    }
    lookup_section(&mut out, s);
    out.push_str("</body></html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_everything_that_could_break_out() {
        assert_eq!(
            escape(r#"<script>alert('x')</script> & "q""#),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
    }
}
