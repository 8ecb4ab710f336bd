//! Autoplay under a token limit (`logitscope --max-tokens N`): the engine thread pauses once
//! the current timeline holds N generated tokens — a speculative round stops there too —
//! autoplay asked for at the limit stops at once and says why, and a single step still goes
//! past it. Runs the real worker on the tiny test model.

mod common;

use assert_cmd::Command as Bin;
use logitscope::decode::speculative::{DraftSpec, GammaSchedule};
use logitscope::decode::SamplerConfig;
use logitscope::engine::protocol::{Command, EngineHandle, Event, Snapshot};
use logitscope::engine::roles::Role;
use logitscope::engine::run::{RunRequest, SpecConfig};
use logitscope::engine::session::Session;
use logitscope::engine::worker::{spawn_with, WorkerOptions};

use common::{fixture, load};

fn session(knobs: SamplerConfig) -> Session {
    Session::new(load(&fixture("spec-target")), "The quick brown fox", knobs).unwrap()
}

fn engine(max_tokens: Option<usize>, session: Session) -> EngineHandle {
    let (handle, _join) = spawn_with(session, WorkerOptions { max_tokens });
    handle
}

/// Events until the engine reports a timeline that is not playing (after a command), with the
/// notices and speculative rounds seen on the way.
fn until_paused(h: &mut EngineHandle) -> (Snapshot, Vec<String>, Vec<usize>) {
    let (mut notices, mut emitted) = (Vec::new(), Vec::new());
    loop {
        match h.events.blocking_recv().expect("the engine is alive") {
            Event::Timeline(s) if !s.playing => return (s, notices, emitted),
            Event::Notice(n) => notices.push(n),
            Event::Error(e) => panic!("engine error: {e}"),
            Event::Speculative(v) => {
                emitted.extend(v.rounds.last().map(|r| r.emitted().len()));
            }
            _ => {}
        }
    }
}

fn send(h: &EngineHandle, c: Command) {
    h.commands.send(c).expect("the engine is alive");
}

#[test]
fn autoplay_pauses_at_the_limit_and_a_step_goes_past_it() {
    let knobs = SamplerConfig {
        temperature: 0.9,
        seed: 5,
        ..SamplerConfig::default()
    };
    let mut h = engine(Some(6), session(knobs.clone()));
    let (start, _, _) = until_paused(&mut h);
    assert!(start.steps.is_empty());

    send(&h, Command::Autoplay(true));
    let (paused, notices, _) = until_paused(&mut h);
    assert_eq!(paused.steps.len(), 6);
    assert_eq!(
        notices,
        ["autoplay stops at 6 tokens (--max-tokens): space steps on"]
    );

    // Asked again at the limit: it stops at once.
    send(&h, Command::Autoplay(true));
    let (again, notices, _) = until_paused(&mut h);
    assert_eq!(again.steps.len(), 6);
    assert_eq!(notices.len(), 1);

    // Space steps on.
    send(&h, Command::Step);
    let (stepped, _, _) = until_paused(&mut h);
    assert_eq!(stepped.steps.len(), 7);

    // The limit changes nothing else: the same tokens as stepping without one.
    let mut free = engine(None, session(knobs));
    let mut last = until_paused(&mut free).0;
    for _ in 0..7 {
        send(&free, Command::Step);
        last = until_paused(&mut free).0;
    }
    let ids = |s: &Snapshot| s.steps.iter().map(|r| r.token_id).collect::<Vec<_>>();
    assert_eq!(ids(&stepped), ids(&last));
    send(&free, Command::Quit);
    send(&h, Command::Quit);
}

#[test]
fn a_speculative_round_stops_at_the_limit() {
    // The target drafting for itself: greedy, every drafted token is accepted, so a round
    // would emit γ + 1 = 5 tokens; the second one has room for 4.
    let greedy = SamplerConfig {
        greedy: true,
        ..SamplerConfig::default()
    };
    let target = fixture("spec-target");
    let mut s = session(greedy);
    s.attach(Role::Draft, load(&target)).unwrap();
    let mut h = engine(Some(9), s);
    until_paused(&mut h);
    send(
        &h,
        Command::Start(RunRequest::Speculative(SpecConfig {
            draft: DraftSpec::Model(target),
            gamma: GammaSchedule {
                gamma: 4,
                adaptive: false,
            },
        })),
    );
    until_paused(&mut h);
    send(&h, Command::Autoplay(true));
    let (paused, _, emitted) = until_paused(&mut h);
    assert_eq!(emitted, [5, 4]);
    assert_eq!(paused.steps.len(), 9);
    send(&h, Command::Quit);
}

#[test]
fn the_tui_takes_max_tokens_from_one_on() {
    let out = Bin::cargo_bin("logitscope")
        .unwrap()
        .args(["tui", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("--max-tokens <N>"), "{help}");
    let out = Bin::cargo_bin("logitscope")
        .unwrap()
        .args(["--max-tokens", "0"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("--max-tokens"), "{err}");
}
