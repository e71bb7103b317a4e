//! Reading back the Prometheus text format the responder's own recorder renders: one
//! sample per line, `name{label="value",...} number`; `#` lines and blank lines skipped.
//! Label values may hold `\\`, `\"` and `\n` escapes. A line that does not parse is
//! skipped (the text is ours; nothing here comes from the network).

use std::collections::BTreeMap;

/// One sample.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The series name (`ocsp_requests_total`, `ocsp_sign_duration_seconds_bucket`).
    pub name: String,
    /// Its labels, by name.
    pub labels: BTreeMap<String, String>,
    /// Its value.
    pub value: f64,
}

impl Sample {
    /// The value of label `name`, or `""`.
    pub fn label(&self, name: &str) -> &str {
        self.labels.get(name).map(String::as_str).unwrap_or("")
    }
}

/// Every sample of `text`.
pub fn parse(text: &str) -> Vec<Sample> {
    text.lines().filter_map(parse_line).collect()
}

fn parse_line(line: &str) -> Option<Sample> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let name_end = line.find(['{', ' '])?;
    let name = line[..name_end].to_string();
    let mut labels = BTreeMap::new();
    let mut rest = &line[name_end..];
    if let Some(body) = rest.strip_prefix('{') {
        let mut chars = body.char_indices();
        let end = loop {
            // Separators, then a label name up to `=`, or the closing brace.
            let mut key = String::new();
            let mut closed_at = None;
            for (i, c) in chars.by_ref() {
                match c {
                    '}' if key.is_empty() => {
                        closed_at = Some(i + 1);
                        break;
                    }
                    ',' | ' ' if key.is_empty() => {}
                    '=' => break,
                    c => key.push(c),
                }
            }
            if let Some(end) = closed_at {
                break end;
            }
            if key.is_empty() || chars.next().map(|(_, c)| c) != Some('"') {
                return None;
            }
            let mut value = String::new();
            loop {
                match chars.next()?.1 {
                    '\\' => match chars.next()?.1 {
                        'n' => value.push('\n'),
                        other => value.push(other),
                    },
                    '"' => break,
                    c => value.push(c),
                }
            }
            labels.insert(key, value);
        };
        rest = &body[end..];
    }
    let value_text = rest.split_whitespace().next()?;
    let value = match value_text {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        v => v.parse().ok()?,
    };
    Some(Sample {
        name,
        labels,
        value,
    })
}

/// The sum of the samples named `name` whose labels include every pair of `want`.
pub fn sum(samples: &[Sample], name: &str, want: &[(&str, &str)]) -> Option<f64> {
    let mut found = false;
    let mut total = 0.0;
    for s in samples.iter().filter(|s| s.name == name) {
        if want.iter().all(|(k, v)| s.label(k) == *v) {
            found = true;
            total += s.value;
        }
    }
    found.then_some(total)
}

/// A histogram's cumulative buckets `(le, count)`, summed over label sets, sorted by `le`.
pub fn buckets(samples: &[Sample], histogram: &str) -> Vec<(f64, f64)> {
    let name = format!("{histogram}_bucket");
    let mut by_le: BTreeMap<u64, (f64, f64)> = BTreeMap::new();
    for s in samples.iter().filter(|s| s.name == name) {
        let le = match s.label("le") {
            "+Inf" => f64::INFINITY,
            v => match v.parse::<f64>() {
                Ok(v) => v,
                Err(_) => continue,
            },
        };
        let e = by_le.entry(le.to_bits()).or_insert((le, 0.0));
        e.1 += s.value;
    }
    let mut v: Vec<(f64, f64)> = by_le.into_values().collect();
    v.sort_by(|a, b| a.0.total_cmp(&b.0));
    v
}

/// The `q` quantile (0..1) of cumulative `buckets`, interpolated linearly inside the
/// bucket it falls in (as PromQL's `histogram_quantile`); `None` without observations.
/// Falling in the `+Inf` bucket gives the highest finite bound.
pub fn quantile(q: f64, buckets: &[(f64, f64)]) -> Option<f64> {
    let total = buckets.last()?.1;
    if total <= 0.0 {
        return None;
    }
    let rank = q * total;
    let mut prev = (0.0, 0.0);
    for &(le, count) in buckets {
        if count >= rank {
            if le.is_infinite() {
                return Some(prev.0);
            }
            let width = count - prev.1;
            let frac = if width > 0.0 {
                (rank - prev.1) / width
            } else {
                1.0
            };
            return Some(prev.0 + (le - prev.0) * frac);
        }
        prev = (le, count);
    }
    Some(prev.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_labels_escapes_and_values() {
        let text = "# HELP x y\n# TYPE x counter\nocsp_ready 1\n\
                    ocsp_requests_total{method=\"GET\",outcome=\"successful\"} 12\n\
                    ocsp_index_generation{issuer=\"A \\\"quoted\\\" CA, \\\\ x\"} 3\n\
                    h_bucket{le=\"+Inf\"} 4\nbroken{a=\"x} 1\n";
        let s = parse(text);
        assert_eq!(s.len(), 4, "{s:?}");
        assert_eq!(s[0].name, "ocsp_ready");
        assert_eq!(s[1].label("outcome"), "successful");
        assert_eq!(s[1].value, 12.0);
        assert_eq!(s[2].label("issuer"), "A \"quoted\" CA, \\ x");
        assert_eq!(s[3].label("le"), "+Inf");
        assert_eq!(
            sum(&s, "ocsp_requests_total", &[("method", "GET")]),
            Some(12.0)
        );
        assert_eq!(sum(&s, "ocsp_requests_total", &[("method", "POST")]), None);
    }

    #[test]
    fn quantiles_interpolate_like_promql() {
        let b = vec![
            (0.001, 50.0),
            (0.01, 90.0),
            (0.1, 100.0),
            (f64::INFINITY, 100.0),
        ];
        assert_eq!(quantile(0.5, &b), Some(0.001));
        let p90 = quantile(0.9, &b).unwrap_or(0.0);
        assert!((p90 - 0.01).abs() < 1e-9, "{p90}");
        let p95 = quantile(0.95, &b).unwrap_or(0.0);
        assert!((p95 - 0.055).abs() < 1e-9, "{p95}");
        assert_eq!(quantile(0.5, &[(1.0, 0.0), (f64::INFINITY, 0.0)]), None);
        assert_eq!(
            quantile(0.99, &[(1.0, 0.0), (f64::INFINITY, 5.0)]),
            Some(1.0)
        );
    }
}
