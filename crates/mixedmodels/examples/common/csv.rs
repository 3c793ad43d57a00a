//! A small reader for the CSV files R's write.csv writes (quoted or non-numeric
//! strings become factors with sorted levels, the rest numbers), for the examples.

use mixedmodels::data::{Column, DataFrame, Factor, MISSING};

pub fn read_csv(path: &str) -> DataFrame<'static> {
    let text = std::fs::read_to_string(path).expect("csv");
    let mut lines = text.lines();
    let header: Vec<String> = lines.next().unwrap().split(',').map(|s| s.trim_matches('"').to_string()).collect();
    let rows: Vec<Vec<&str>> = lines.filter(|l| !l.is_empty()).map(|l| l.split(',').collect()).collect();
    let mut df = DataFrame::new();
    for (c, name) in header.iter().enumerate() {
        let first = rows[0][c];
        if first.starts_with('"') || (first != "NA" && first.parse::<f64>().is_err()) {
            let labels: Vec<&str> = rows.iter().map(|r| r[c].trim_matches('"')).collect();
            let mut levels: Vec<String> = labels.iter().map(|s| s.to_string()).collect();
            levels.sort();
            levels.dedup();
            let codes = labels
                .iter()
                .map(|l| levels.binary_search_by(|x| x.as_str().cmp(l)).map_or(MISSING, |i| i as u32))
                .collect();
            df.push(name.clone(), Column::Factor(Factor::new(codes, levels))).unwrap();
        } else {
            let v: Vec<f64> = rows.iter().map(|r| r[c].parse().unwrap_or(f64::NAN)).collect();
            df.push(name.clone(), Column::Numeric(v.into())).unwrap();
        }
    }
    df
}
