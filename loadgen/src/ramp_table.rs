//! The ramp step by step: each server's figures at each rate side by side, for `results.md`. The comparison
//! table keeps only a ramp's summary (its highest clean rate, its saturation); how the servers fare at moderate
//! rates, where most deployments live, is in the steps.

use crate::latency::format_us;
use serde_json::Value;
use std::fmt::Write;

/// A Markdown table of every step of every server's ramp, by rate then server: `ramps` holds each server's name
/// and its ramp's JSON figures (with `steps`). Empty when no ramp ran.
pub(crate) fn markdown(ramps: &[(String, Value)]) -> String {
    let mut rates: Vec<f64> =
        ramps.iter().flat_map(|(_, ramp)| steps(ramp)).filter_map(|step| step["rate"].as_f64()).collect();
    rates.sort_by(f64::total_cmp);
    rates.dedup();
    if rates.is_empty() {
        return String::new();
    }
    let mut table = String::from(
        "| broadcasts/s | server | deliveries/s | p50 | p99 | lost | server CPU µs/delivery | POST p50 | POST p99 | \
         published |\n|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for rate in rates {
        for (server, ramp) in ramps {
            let cells = match steps(ramp).find(|step| step["rate"].as_f64() == Some(rate)) {
                Some(step) => row(step),
                None => "| not run: an earlier step saturated |  |  |  |  |  |  |  |".to_owned(),
            };
            let _ = writeln!(table, "| {rate} | {server} {cells}");
        }
    }
    table
}

fn steps(ramp: &Value) -> impl Iterator<Item = &Value> {
    ramp["steps"].as_array().into_iter().flatten()
}

/// The cells after the server's name, each starting with `|`.
fn row(step: &Value) -> String {
    let us = |value: &Value| value.as_u64().map_or("–".to_owned(), format_us);
    let number = |value: &Value, digits: usize| value.as_f64().map_or("–".to_owned(), |x| format!("{x:.digits$}"));
    format!(
        "| {} | {} | {} | {} | {} | {} | {} | {} |",
        number(&step["deliveries_per_s"], 0),
        us(&step["latency"]["p50_us"]),
        us(&step["latency"]["p99_us"]),
        number(&step["lost"], 0),
        number(&step["server_cpu_us_per_delivery"], 2),
        us(&step["post_latency"]["p50_us"]),
        us(&step["post_latency"]["p99_us"]),
        published(step),
    )
}

/// `3.00 s`, or `700 of 3000 in 6.00 s` for a publisher that fell behind.
fn published(step: &Value) -> String {
    let seconds = step["seconds"].as_f64().map_or("–".to_owned(), |seconds| format!("{seconds:.2} s"));
    match (step["sent"].as_u64(), step["planned"].as_u64()) {
        (Some(sent), Some(planned)) if sent < planned => format!("{sent} of {planned} in {seconds}"),
        _ => seconds,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn step(rate: f64, p99_us: u64) -> Value {
        json!({
            "rate": rate, "deliveries_per_s": rate * 1000.0, "lost": 0, "seconds": 3.0, "sent": 150, "planned": 150,
            "latency": { "p50_us": 900, "p99_us": p99_us },
            "server_cpu_us_per_delivery": 3.456,
            "post_latency": { "p50_us": 250, "p99_us": 1800 },
        })
    }

    #[test]
    fn steps_line_up_by_rate_and_a_missing_step_says_why() {
        let relay = json!({ "steps": [step(50.0, 2000), step(100.0, 4000)] });
        let mut late = step(50.0, 9000);
        late["sent"] = json!(70);
        late["seconds"] = json!(6.0);
        let baseline = json!({ "steps": [late] });
        let table = markdown(&[("relay".to_owned(), relay), ("minimal".to_owned(), baseline)]);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 2 + 4, "{table}");
        assert_eq!(lines[2], "| 50 | relay | 50000 | 900 µs | 2.0 ms | 0 | 3.46 | 250 µs | 1.8 ms | 3.00 s |");
        assert!(lines[3].starts_with("| 50 | minimal | 50000 | 900 µs | 9.0 ms |"), "{table}");
        assert!(lines[3].ends_with("| 70 of 150 in 6.00 s |"), "{table}");
        assert!(lines[4].starts_with("| 100 | relay |"), "{table}");
        assert!(lines[5].contains("not run: an earlier step saturated"), "{table}");
    }

    #[test]
    fn no_ramp_no_table() {
        assert_eq!(markdown(&[]), "");
    }
}
