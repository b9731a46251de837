//! The terminal dashboard. `app` holds the state and `update`, `view` draws it, `load`
//! fetches through the SDK clients in background tasks. This module only runs the loop:
//! terminal events and finished loads become actions; rendering never waits on the network.
//!
//! May use `cloud`, `workshop`, and `deploy` and `run` (the Lab's steps call the CLI's own
//! code); knows nothing of the local cloud's internals.

pub mod actions;
pub mod app;
pub mod detail;
pub mod dupes;
pub mod graph;
pub mod lab;
pub mod load;
pub mod view;

use std::time::Duration;

use crossterm::event::{Event, EventStream};
use futures::StreamExt;
use tokio::sync::mpsc;

use app::{Action, App, Effect};
use load::Source;

/// How often the current view refreshes by itself.
const REFRESH_EVERY: Duration = Duration::from_secs(3);

/// Runs the dashboard until the user quits. The terminal is restored on every exit path,
/// including a panic.
pub async fn run(source: Source, target: String) -> anyhow::Result<()> {
    let mut terminal = ratatui::try_init()?;
    let _ = crossterm::execute!(std::io::stdout(), crossterm::event::EnableMouseCapture);
    let result = event_loop(&mut terminal, source, target).await;
    let _ = crossterm::execute!(std::io::stdout(), crossterm::event::DisableMouseCapture);
    ratatui::restore();
    result
}

async fn event_loop(terminal: &mut ratatui::DefaultTerminal, source: Source, target: String) -> anyhow::Result<()> {
    let mut app = App::new(target);
    // Ask the terminal which graphics protocol it speaks (kitty, iTerm2, sixel) before the
    // event stream starts reading its input; half-blocks when it does not answer. The query
    // reads stdin on a thread that outlives a timeout and then swallows the next key, so
    // it is skipped where answers are unreliable (inside tmux) or when told to.
    let skip_query =
        std::env::var_os("TMUX").is_some() || std::env::var("WILDRYDES_IMAGES").is_ok_and(|v| v == "halfblocks");
    if !skip_query && let Ok(picker) = ratatui_image::picker::Picker::from_query_stdio() {
        app.picker = picker;
    }
    let (tx, mut rx) = mpsc::unbounded_channel::<Action>();
    let mut events = EventStream::new();
    let mut ticks = tokio::time::interval(REFRESH_EVERY);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);

    let effects = app.start();
    run_effects(&source, &tx, effects);
    loop {
        terminal.draw(|frame| view::view(&mut app, frame))?;
        let action = tokio::select! {
            event = events.next() => match event {
                Some(Ok(Event::Key(key))) if key.kind == crossterm::event::KeyEventKind::Press => Action::Key(key),
                Some(Ok(Event::Mouse(mouse))) => Action::Mouse(mouse),
                // A resize only needs a redraw, which the loop does anyway.
                Some(Ok(_)) => continue,
                Some(Err(e)) => return Err(e.into()),
                None => return Ok(()),
            },
            Some(action) = rx.recv() => action,
            _ = ticks.tick() => Action::Tick,
        };
        let effects = app::update(&mut app, action);
        if app.quit {
            return Ok(());
        }
        run_effects(&source, &tx, effects);
    }
}

fn run_effects(source: &Source, tx: &mpsc::UnboundedSender<Action>, effects: Vec<Effect>) {
    for effect in effects {
        let source = source.clone();
        let tx = tx.clone();
        tokio::spawn(async move {
            let loaded = match effect {
                Effect::Load(tab) => load::load(&source, tab).await,
                Effect::CheckHealth => load::health(&source).await,
                Effect::LoadHistory(arn) => {
                    let detail = load::execution_detail(&source, &arn).await;
                    app::Loaded::History(arn, detail)
                }
                Effect::LoadGraph(arn) => app::Loaded::Graph(load::graph(&source, arn.as_deref()).await),
                Effect::LoadImage(path) => {
                    let image = load::image(&source, &path).await;
                    app::Loaded::Image(path, image)
                }
                Effect::Start { state_machine, photo, user } => {
                    actions::start(&source, &state_machine, &photo, &user).await
                }
                Effect::Stop(arn) => actions::stop(&source, &arn).await,
                Effect::Rerun(arn) => actions::rerun(&source, &arn).await,
                Effect::Redrive(arn) => actions::redrive(&source, &arn).await,
                Effect::DeleteFaces(faces) => actions::delete_faces(&source, &faces).await,
                Effect::FindDuplicates(threshold) => actions::find_duplicates(&source, threshold).await,
                Effect::RunLabStep(step) => lab::run(&source, step, &tx).await,
                Effect::Upload(path) => actions::upload(&source, &path).await,
            };
            // The dashboard may have quit meanwhile; then nobody needs the result.
            let _ = tx.send(Action::Loaded(loaded));
        });
    }
}
