//! One active run at a time behind one interface: plain sampling, beam search, speculative
//! decoding and crowds of samples are kinds of [`Run`]. The worker starts one from a [`RunRequest`], steps it on
//! command or while playing, and sends the events each step produces. A new kind of run is one
//! decode state machine plus one implementation of [`Run`] here.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::decode::beam::BeamConfig;
use crate::decode::speculative::{
    expected_tokens_per_call, DraftSpec, GammaSchedule, Round, SpecStats, MAX_GAMMA,
};

use super::beam::BeamRun;
use super::crowd::{CrowdConfig, CrowdRun};
use super::protocol::Event;
use super::session::{EngineError, Session};

/// What to run.
#[derive(Debug, Clone, PartialEq)]
pub enum RunRequest {
    /// One token per step from the sampler chain (the default).
    Sample,
    /// A beam search on the prompt; the model's end-of-sequence ids are used when
    /// `cfg.eos_ids` is empty.
    Beam(Box<BeamConfig>),
    /// Speculative rounds on the current timeline.
    Speculative(SpecConfig),
    /// A crowd of samples of the prompt, one chosen by MBR or a vote.
    Crowd(Box<CrowdConfig>),
}

/// Which kind of run is active.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum RunKind {
    #[default]
    Sample,
    Beam,
    Speculative,
    Crowd,
}

impl RunRequest {
    pub fn kind(&self) -> RunKind {
        match self {
            RunRequest::Sample => RunKind::Sample,
            RunRequest::Beam(_) => RunKind::Beam,
            RunRequest::Speculative(_) => RunKind::Speculative,
            RunRequest::Crowd(_) => RunKind::Crowd,
        }
    }
}

/// The knobs of speculative decoding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpecConfig {
    pub draft: DraftSpec,
    /// Drafted tokens per round (γ), and whether it adapts.
    pub gamma: GammaSchedule,
}

/// A run in progress.
pub trait Run {
    fn kind(&self) -> RunKind;
    /// Whether another step can run now.
    fn can_step(&self, session: &Session) -> bool;
    /// One unit of work (a token, a beam expansion, a round); the events it produces besides
    /// the timeline snapshot the worker sends after every change. `room`: how many tokens the
    /// timeline may still grow by (at least 1; `usize::MAX` without a limit), which a
    /// speculative round respects; runs that do not extend the timeline ignore it.
    fn step(&mut self, session: &mut Session, room: usize) -> Result<Vec<Event>, EngineError>;
    /// Events describing the run as it stands (sent when it starts).
    fn view(&self) -> Vec<Event>;
}

/// Starts the run `req` asks for.
pub fn start(req: RunRequest, session: &mut Session) -> Result<Box<dyn Run>, EngineError> {
    Ok(match req {
        RunRequest::Sample => Box::new(SampleRun),
        RunRequest::Beam(cfg) => {
            let mut cfg = *cfg;
            let model = &session.loaded().model;
            if cfg.eos_ids.is_empty() {
                cfg.eos_ids = model.config().eos_ids.clone();
                cfg.pad_id = cfg.eos_ids.first().copied();
            }
            Box::new(BeamRun::start(model, session.prompt_ids(), cfg)?)
        }
        RunRequest::Speculative(cfg) => Box::new(SpecRun::new(cfg, session)?),
        RunRequest::Crowd(cfg) => Box::new(CrowdRun::start(
            session.loaded(),
            session.prompt_ids(),
            session.config(),
            *cfg,
        )?),
    })
}

/// Plain sampling: one token per step.
pub struct SampleRun;

impl Run for SampleRun {
    fn kind(&self) -> RunKind {
        RunKind::Sample
    }

    fn can_step(&self, session: &Session) -> bool {
        !session.finished()
    }

    fn step(&mut self, session: &mut Session, _room: usize) -> Result<Vec<Event>, EngineError> {
        session.step().map(|_| Vec::new())
    }

    fn view(&self) -> Vec<Event> {
        Vec::new()
    }
}

impl Run for BeamRun {
    fn kind(&self) -> RunKind {
        RunKind::Beam
    }

    fn can_step(&self, _: &Session) -> bool {
        !self.is_done()
    }

    fn step(&mut self, session: &mut Session, _room: usize) -> Result<Vec<Event>, EngineError> {
        BeamRun::step(self, &session.loaded().model)?;
        Ok(self.view())
    }

    fn view(&self) -> Vec<Event> {
        vec![Event::Beam(Arc::new(self.tree().clone()))]
    }
}

impl Run for CrowdRun {
    fn kind(&self) -> RunKind {
        RunKind::Crowd
    }

    fn can_step(&self, _: &Session) -> bool {
        !self.is_done()
    }

    fn step(&mut self, session: &mut Session, _room: usize) -> Result<Vec<Event>, EngineError> {
        CrowdRun::step(self, session.loaded())?;
        Ok(Run::view(self))
    }

    fn view(&self) -> Vec<Event> {
        vec![Event::Crowd(self.shared_view())]
    }
}

/// Most rounds a [`SpecView`] carries (the figures count every round).
pub const SPEC_VIEW_ROUNDS: usize = 256;

/// What the speculative tab shows.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SpecView {
    /// Draft label (`ngram:3`, `self:8`, a model name).
    pub draft: String,
    /// γ of the next round.
    pub gamma: usize,
    pub adaptive: bool,
    /// The latest rounds, oldest first.
    pub rounds: Vec<Arc<Round>>,
    pub stats: SpecStats,
    /// `(1 − α^(γ+1)) / (1 − α)` at the mean α and the current γ.
    pub expected_tokens_per_call: f64,
}

/// Speculative decoding on the current timeline: one round per step.
pub struct SpecRun {
    cfg: SpecConfig,
    rounds: Vec<Arc<Round>>,
    stats: SpecStats,
}

impl SpecRun {
    /// Checks the draft can run on this session.
    pub fn new(cfg: SpecConfig, session: &Session) -> Result<Self, EngineError> {
        if !(1..=MAX_GAMMA).contains(&cfg.gamma.gamma) {
            return Err(EngineError::Invalid(format!(
                "--draft-tokens must be 1..={MAX_GAMMA}, got {}",
                cfg.gamma.gamma
            )));
        }
        if cfg.draft.is_model() && session.role(super::roles::Role::Draft).is_none() {
            return Err(EngineError::Invalid(
                "no draft model is loaded: start with --draft PATH".into(),
            ));
        }
        Ok(SpecRun {
            cfg,
            rounds: Vec::new(),
            stats: SpecStats::default(),
        })
    }

    /// One round emitting at most `max_emit` tokens.
    pub fn round(
        &mut self,
        session: &mut Session,
        max_emit: usize,
    ) -> Result<Arc<Round>, EngineError> {
        let mut round =
            session.speculative_round(&self.cfg.draft, self.cfg.gamma.gamma, max_emit)?;
        round.round = self.stats.rounds;
        self.stats.add(&round);
        self.cfg.gamma.after_round(round.gamma, round.accepted());
        let round = Arc::new(round);
        self.rounds.push(round.clone());
        if self.rounds.len() > SPEC_VIEW_ROUNDS {
            self.rounds.remove(0);
        }
        Ok(round)
    }

    pub fn stats(&self) -> &SpecStats {
        &self.stats
    }

    /// The tab's view now.
    pub fn spec_view(&self) -> SpecView {
        SpecView {
            draft: self.cfg.draft.to_string(),
            gamma: self.cfg.gamma.gamma,
            adaptive: self.cfg.gamma.adaptive,
            rounds: self.rounds.clone(),
            stats: self.stats.clone(),
            expected_tokens_per_call: expected_tokens_per_call(
                self.stats.mean_alpha(),
                self.cfg.gamma.gamma,
            ),
        }
    }
}

impl Run for SpecRun {
    fn kind(&self) -> RunKind {
        RunKind::Speculative
    }

    fn can_step(&self, session: &Session) -> bool {
        !session.finished()
    }

    fn step(&mut self, session: &mut Session, room: usize) -> Result<Vec<Event>, EngineError> {
        self.round(session, room)?;
        Ok(self.view())
    }

    fn view(&self) -> Vec<Event> {
        vec![Event::Speculative(Arc::new(self.spec_view()))]
    }
}
