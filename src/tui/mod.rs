//! The terminal dashboard. `app` holds what is global (the view on screen, the target's
//! health, the popups, the message line) and `update`; each view is a component
//! (`components`) with its own state, keys and drawing; `popups` are what opens over them;
//! `view` draws the frame; `load` and `actions` ask the operations layer (`ops`) in
//! background tasks and map its answers into messages. This module only runs the loop:
//! terminal events and finished loads become actions; rendering never waits on the network.
//!
//! May use `ops`, `cloud`, `workshop`, and `deploy` and `run` (the Lab's steps are the CLI's
//! own code); knows nothing of the local cloud's internals.

pub mod actions;
pub mod app;
pub mod components;
pub mod detail;
pub mod graph;
pub mod lab;
pub mod load;
pub mod popups;
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
    drive(terminal, EventStream::new(), &source, &mut app, &mut std::io::stdout()).await
}

/// The loop: draw, wait for a terminal event, a finished background task or the refresh
/// tick, update, start what the update asks for; until the user quits. When `events` ends
/// (a test's keys), what was started is finished and its answers taken before it returns,
/// so a test reads the outcome of every key. The clipboard's OSC 52 escapes go to
/// `clipboard` (the terminal's output).
pub async fn drive<B: ratatui::backend::Backend>(
    terminal: &mut ratatui::Terminal<B>,
    mut events: impl futures::Stream<Item = std::io::Result<Event>> + Unpin,
    source: &Source,
    app: &mut App,
    clipboard: &mut impl std::io::Write,
) -> anyhow::Result<()> {
    let draw = |terminal: &mut ratatui::Terminal<B>, app: &mut App| {
        // The frame says where it drew the tabs and rows; the app keeps that for the mouse.
        terminal.draw(|frame| view::view(app, frame)).map(|_| ()).map_err(|e| anyhow::anyhow!("drawing: {e}"))
    };
    let (tx, mut rx) = mpsc::unbounded_channel::<Action>();
    let mut tasks = tokio::task::JoinSet::new();
    let mut ticks = tokio::time::interval(REFRESH_EVERY);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);

    let effects = app.start();
    run_effects(source, &tx, &mut tasks, clipboard, effects);
    loop {
        draw(terminal, app)?;
        let action = tokio::select! {
            event = events.next() => match event {
                Some(Ok(Event::Key(key))) if key.kind == crossterm::event::KeyEventKind::Press => Action::Key(key),
                Some(Ok(Event::Mouse(mouse))) => Action::Mouse(mouse),
                // A resize only needs a redraw, which the loop does anyway.
                Some(Ok(_)) => continue,
                Some(Err(e)) => return Err(e.into()),
                None => break,
            },
            Some(action) = rx.recv() => action,
            // Finished tasks have sent their answer; only their handles are left.
            Some(_) = tasks.join_next(), if !tasks.is_empty() => continue,
            _ = ticks.tick() => Action::Tick,
        };
        let effects = app::update(app, action);
        if app.quit {
            return Ok(());
        }
        run_effects(source, &tx, &mut tasks, clipboard, effects);
    }
    // No more events: finish what was started, taking the answers as they come.
    loop {
        while let Ok(action) = rx.try_recv() {
            let effects = app::update(app, action);
            run_effects(source, &tx, &mut tasks, clipboard, effects);
        }
        // A task sends its answer before it ends: once none is left, all were taken.
        if tasks.is_empty() {
            break;
        }
        tasks.join_next().await;
    }
    draw(terminal, app)
}

/// The OSC 52 escape that asks the terminal to put `text` on the clipboard (kitty, iTerm2,
/// WezTerm, foot, xterm with it allowed, and tmux with `set-clipboard` on pass it on).
pub fn osc52(text: &str) -> String {
    use base64::Engine as _;
    format!("\x1b]52;c;{}\x07", base64::engine::general_purpose::STANDARD.encode(text))
}

fn run_effects(
    source: &Source,
    tx: &mpsc::UnboundedSender<Action>,
    tasks: &mut tokio::task::JoinSet<()>,
    clipboard: &mut impl std::io::Write,
    effects: Vec<Effect>,
) {
    for effect in effects {
        if let Effect::Copy(text) = &effect {
            // A terminal that does not pass OSC 52 on ignores it; nothing to report.
            let _ = clipboard.write_all(osc52(text).as_bytes()).and_then(|()| clipboard.flush());
            continue;
        }
        let source = source.clone();
        let tx = tx.clone();
        tasks.spawn(async move {
            let loaded = match effect {
                Effect::Load(tab) => load::load(&source, tab).await,
                Effect::CheckHealth => load::health(&source).await,
                Effect::LoadHistory(arn) => {
                    let detail = load::execution_detail(&source, &arn).await;
                    app::Loaded::History(arn, detail)
                }
                Effect::LoadGraph(arn) => app::Loaded::Graph(load::graph(&source, arn.as_deref()).await),
                Effect::LoadMachine(name) => app::Loaded::Graph(load::machine_graph(&source, &name).await),
                // Written to the terminal above, never spawned.
                Effect::Copy(_) => return,
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
