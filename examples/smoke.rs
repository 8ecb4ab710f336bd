use logitscope::model::*;
fn main() {
    if let Ok(n) = std::env::var("THREADS") {
        tch::set_num_threads(n.parse().unwrap());
    }
    let p = default_model_path();
    let t0 = std::time::Instant::now();
    let l = load(&p, Dtype::F32, &mut |_, _| {}).unwrap();
    eprintln!("load {:?}", t0.elapsed());
    let ids = l.tok.encode("The capital of France is").unwrap();
    eprintln!("ids {ids:?}");
    let mut cache = l.model.new_cache();
    let mut logits = l.model.next_logits(&ids, &mut cache).unwrap();
    let mut out = vec![];
    let t0 = std::time::Instant::now();
    for _ in 0..20 {
        let (id, _) =
            logits
                .iter()
                .enumerate()
                .fold((0, f32::MIN), |a, (i, &v)| if v > a.1 { (i, v) } else { a });
        out.push(id as u32);
        logits = l.model.next_logits(&[id as u32], &mut cache).unwrap();
    }
    eprintln!("decode {:?}/tok", t0.elapsed() / 20);
    println!("{:?}\n{}", out, l.tok.decode(&out));
}
