//! Reading a large GeoJSON import: `IMPORT_FILE=path cargo bench --bench import`.
use std::time::Instant;
fn main() {
    let path = std::env::var("IMPORT_FILE").expect("IMPORT_FILE");
    let text = std::fs::read(&path).unwrap();
    for _ in 0..2 {
        let t = Instant::now();
        let batch = ftth_feasibility::domain::import::read_collection(&text).unwrap();
        println!(
            "read {} boxes in {:.2} s",
            batch.boxes.len(),
            t.elapsed().as_secs_f64()
        );
        let t = Instant::now();
        let v: serde_json::Value = serde_json::from_slice(&text).unwrap();
        println!("whole Value in {:.2} s", t.elapsed().as_secs_f64());
        drop(v);
        let t = Instant::now();
        drop(batch);
        println!("drop batch {:.2} s", t.elapsed().as_secs_f64());
    }
}
