//! The Lab view: the workshop as a checklist read from the target, each step run from here
//! (its progress below the list while it runs, then how it ended).

use std::collections::HashMap;

use crossterm::event::KeyCode;
use ratatui::Frame;
use ratatui::layout::{Alignment, Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Table, TableState, Wrap};

use super::{Binding, Cmd, Component, DrawCtx, Drawn, Intent, Key, ListArea, MOVE, bind_of, moved};
use crate::tui::app::{Effect, LabRun, LabStep, Loadable, Loaded, Step, StepStatus, Tab};
use crate::tui::popups::Question;
use crate::tui::view::{draw_message, window};

const KEYS: &[Binding] = &[
    bind_of(&[Key::of(KeyCode::Enter)], "Enter", "run the step (clean-up asks you to type delete)", Cmd::RunStep),
    bind_of(&[Key::ch('e')], "e", "open the execution the step started", Cmd::StepExecution),
    bind_of(&[Key::ch('a')], "a", "every step still to do, one after the other", Cmd::RunEverything),
    bind_of(&[Key::ch('c')], "c", "copy the ARN of the step's execution", Cmd::Copy),
];

#[derive(Debug, Default)]
pub struct Lab {
    pub steps: Loadable<Vec<LabStep>>,
    pub selected: usize,
    /// Steps run from this dashboard, by step.
    pub runs: HashMap<Step, LabRun>,
    filter: String,
}

impl Lab {
    fn rows(&self) -> Vec<&LabStep> {
        let needle = self.filter.to_lowercase();
        self.steps
            .rows()
            .into_iter()
            .flatten()
            .filter(|s| needle.is_empty() || format!("{} {}", s.title, s.detail).to_lowercase().contains(&needle))
            .collect()
    }

    pub fn selected_step(&self) -> Option<&LabStep> {
        self.rows().get(self.selected).copied()
    }

    /// The execution a step started: the one this dashboard just ran, else the newest one
    /// found on the target.
    pub fn execution(&self, step: &LabStep) -> Option<String> {
        let ran = match self.runs.get(&step.step) {
            Some(LabRun::Finished { result: Ok(outcome), .. }) => outcome.execution.clone(),
            _ => None,
        };
        ran.or_else(|| step.execution.clone())
    }

    /// The titles of the steps running now.
    pub fn running(&self) -> Vec<String> {
        self.runs
            .iter()
            .filter(|(_, run)| matches!(run, LabRun::Running { .. }))
            .map(|(step, _)| format!("“{}”", step.title()))
            .collect()
    }

    /// Enter on a step: run it in the background (clean-up asks first); the results step
    /// opens the Faces view.
    fn run_step(&mut self, step: Step) -> Vec<Intent> {
        if matches!(self.runs.get(&step), Some(LabRun::Running { .. })) {
            let message = format!("“{}” is still running: its progress is below the list.", step.title());
            return vec![Intent::Notice(message, true)];
        }
        match step {
            Step::Results => vec![Intent::Go(Tab::Faces)],
            Step::Cleanup => vec![Intent::Ask(Question::Cleanup)],
            step => vec![Intent::Effect(Effect::RunLabStep(step))],
        }
    }

    /// `a`: shows every step still to do as waiting to run, and runs them all in the
    /// workshop's order (`lab::run` of [`Step::Everything`]); not while a step runs.
    fn run_everything(&mut self) -> Vec<Intent> {
        if let Some(step) = self.runs.iter().find(|(_, run)| matches!(run, LabRun::Running { .. })).map(|(s, _)| *s) {
            let message = format!("“{}” is still running: wait for it to end first.", step.title());
            return vec![Intent::Notice(message, true)];
        }
        let to_do: Vec<Step> = self
            .steps
            .rows()
            .into_iter()
            .flatten()
            .filter(|row| crate::tui::lab::in_everything(row.step) && row.status != StepStatus::Done)
            .map(|row| row.step)
            .collect();
        for step in to_do {
            self.runs.insert(step, LabRun::Running { lines: vec!["queued: runs after the steps above".into()] });
        }
        vec![Intent::Effect(Effect::RunLabStep(Step::Everything))]
    }

    /// A step's run starts (asked for here, or confirmed).
    pub fn started(&mut self, step: Step) {
        self.runs.insert(step, LabRun::Running { lines: Vec::new() });
    }

    /// How a step shows: what this dashboard is running or just failed to run wins over what
    /// the target says.
    fn mark(&self, step: &LabStep) -> (&'static str, Color) {
        match self.runs.get(&step.step) {
            Some(LabRun::Running { .. }) => return ("⟳ running", Color::Yellow),
            Some(LabRun::Finished { result: Err(_), .. }) => return ("✖ failed", Color::Red),
            Some(LabRun::Finished { result: Ok(outcome), .. }) if !outcome.as_expected => {
                return ("≠ other", Color::Magenta);
            }
            _ => {}
        }
        match step.status {
            StepStatus::Done => ("✔ done", Color::Green),
            StepStatus::Todo => ("○ to do", Color::Yellow),
            StepStatus::Running => ("⟳ running", Color::Yellow),
            StepStatus::Unavailable => ("? unknown", Color::DarkGray),
            StepStatus::Unexpected => ("≠ other", Color::Magenta),
        }
    }
}

impl Component for Lab {
    fn bindings(&self) -> Vec<&'static [Binding]> {
        vec![KEYS, MOVE]
    }

    fn run(&mut self, cmd: Cmd) -> Vec<Intent> {
        if let Some(to) = moved(cmd, self.selected, self.rows().len()) {
            self.selected = to;
            return Vec::new();
        }
        match cmd {
            Cmd::RunStep => {
                let Some(step) = self.selected_step().map(|s| s.step) else { return Vec::new() };
                return self.run_step(step);
            }
            Cmd::RunEverything => return self.run_everything(),
            Cmd::StepExecution | Cmd::Copy => {
                let Some(step) = self.selected_step().cloned() else { return Vec::new() };
                return match (self.execution(&step), cmd) {
                    (Some(arn), Cmd::Copy) => vec![Intent::Copy(arn)],
                    (Some(arn), _) => vec![Intent::OpenExecution(arn)],
                    (None, _) => vec![Intent::Notice(
                        format!("“{}” has started no execution yet: Enter runs it.", step.title),
                        true,
                    )],
                };
            }
            _ => {}
        }
        Vec::new()
    }

    fn loaded(&mut self, loaded: &Loaded) -> bool {
        match loaded {
            Loaded::Lab(result) => {
                self.steps = Loadable::from_result(result);
                let rows = self.rows().len();
                self.selected = self.selected.min(rows.saturating_sub(1));
            }
            Loaded::LabProgress(step, line) => {
                if let Some(LabRun::Running { lines }) = self.runs.get_mut(step) {
                    lines.push(line.clone());
                    // The pane shows the last lines; a long deploy need not keep them all.
                    if lines.len() > 200 {
                        lines.remove(0);
                    }
                }
            }
            Loaded::LabDone(step, result) => {
                let lines = self.runs.remove(step).map(|run| run.lines().to_vec()).unwrap_or_default();
                self.runs.insert(*step, LabRun::Finished { result: result.clone(), lines });
            }
            _ => return false,
        }
        true
    }

    fn loading(&mut self) {
        self.steps.mark_loading();
    }

    fn refresh(&self) -> Vec<Effect> {
        vec![Effect::Load(Tab::Lab)]
    }

    fn filter(&self) -> &str {
        &self.filter
    }

    fn set_filter(&mut self, filter: String) {
        self.filter = filter;
        self.selected = 0;
    }

    fn len(&self) -> usize {
        self.rows().len()
    }

    fn selected(&self) -> usize {
        self.selected
    }

    fn select(&mut self, row: usize) {
        self.selected = row.min(self.len().saturating_sub(1));
    }

    fn draw(&self, frame: &mut Frame, area: Rect, _ctx: &mut DrawCtx) -> Drawn {
        match &self.steps {
            Loadable::Loaded(_) => {}
            Loadable::Failed(message) => {
                draw_message(frame, area, "Lab", message);
                return Drawn::default();
            }
            _ => {
                draw_message(frame, area, "Lab", "Loading the workshop's progress…");
                return Drawn::default();
            }
        }
        let steps = self.rows();
        // The pane under the checklist keeps room for the step's story; the list scrolls.
        let pane_min = if area.height >= 20 { 7 } else { 4 };
        let list_height = (steps.len() as u16 + 3).min(area.height.saturating_sub(pane_min).max(3));
        let [list, pane] = Layout::vertical([Constraint::Length(list_height), Constraint::Fill(1)]).areas(area);
        let height = list.height.saturating_sub(3) as usize;
        let first = window(self.selected, steps.len(), height);
        let shown: Vec<&LabStep> = steps.iter().skip(first).take(height).copied().collect();
        let rows: Vec<Row> = shown
            .iter()
            .map(|step| {
                let (mark, color) = self.mark(step);
                let detail = match self.runs.get(&step.step) {
                    Some(LabRun::Running { lines }) => lines.last().cloned().unwrap_or_else(|| "starting…".into()),
                    Some(LabRun::Finished { result: Err(e), .. }) => e.clone(),
                    _ => step.detail.clone(),
                };
                Row::new(vec![
                    Cell::from(step.step.number()),
                    Cell::from(step.title.clone()),
                    Cell::from(mark).style(Style::new().fg(color)),
                    Cell::from(detail).style(Style::new().fg(if color == Color::Red {
                        Color::Red
                    } else {
                        Color::Gray
                    })),
                ])
            })
            .collect();
        // The step column as wide as the longest title on screen.
        let title_width = shown.iter().map(|s| s.title.chars().count()).max().unwrap_or(4).max(4) as u16;
        let mut block = Block::new()
            .borders(Borders::ALL)
            .title(" Lab: the rider-photo workshop — Enter run · e its execution · a every step ");
        let below = steps.len().saturating_sub(first + shown.len());
        if first > 0 || below > 0 {
            block = block
                .title_bottom(Line::from(format!(" ↑ {first} above · ↓ {below} more ")).alignment(Alignment::Right));
        }
        let table = Table::new(
            rows,
            [Constraint::Length(3), Constraint::Length(title_width), Constraint::Length(9), Constraint::Fill(1)],
        )
        .header(
            Row::new(["", "Step", "Status", "What is there"])
                .style(Style::new().add_modifier(Modifier::BOLD).fg(Color::Cyan)),
        )
        .block(block)
        .row_highlight_style(Style::new().bg(Color::DarkGray).add_modifier(Modifier::BOLD))
        .highlight_symbol("› ");
        if steps.is_empty() {
            let text = if self.filter.is_empty() {
                "No steps.".to_string()
            } else {
                format!("Nothing here matches the filter “{}”: Esc clears it.", self.filter)
            };
            draw_message(frame, list, "Lab", &text);
            return Drawn::default();
        }
        frame.render_stateful_widget(
            table,
            list,
            &mut TableState::default().with_selected(Some(self.selected - first)),
        );
        let drawn = Drawn { list: Some(ListArea { top: list.y + 2, first, rows: shown.len() }) };
        let Some(step) = steps.get(self.selected) else { return drawn };
        let mut lines = vec![Line::from(step.step.explain())];
        match self.runs.get(&step.step) {
            Some(run @ LabRun::Running { .. }) => {
                lines.push(Line::from("Running:").bold().fg(Color::Yellow));
                lines.extend(run.lines().iter().map(|l| Line::from(format!("  {l}"))));
            }
            Some(LabRun::Finished { result, lines: progress }) => {
                lines.extend(progress.iter().map(|l| Line::from(format!("  {l}")).dark_gray()));
                lines.push(match result {
                    Ok(outcome) if outcome.as_expected => Line::from(format!("✔ {}", outcome.message)).fg(Color::Green),
                    Ok(outcome) => Line::from(format!("≠ {}", outcome.message)).fg(Color::Magenta).bold(),
                    Err(e) => Line::from(format!("✖ {e}")).fg(Color::Red).bold(),
                });
            }
            None => lines.push(Line::from(format!("On the target: {}", step.detail)).fg(Color::Gray)),
        }
        if let Some(arn) = self.execution(step) {
            let name = arn.rsplit(':').next().unwrap_or_default().to_string();
            lines.push(Line::from(vec![
                Span::raw("Execution: ").bold(),
                Span::raw(name),
                Span::raw("  (e opens it)").dark_gray(),
            ]));
        }
        // Show the end of the story: the newest progress lines and the outcome.
        let inner_width = pane.width.saturating_sub(2).max(1) as usize;
        let inner_height = pane.height.saturating_sub(2) as usize;
        let wrapped: usize = lines.iter().map(|l| l.width().max(1).div_ceil(inner_width)).sum();
        let scroll = wrapped.saturating_sub(inner_height).min(u16::MAX as usize) as u16;
        frame.render_widget(
            Paragraph::new(lines)
                .wrap(Wrap { trim: false })
                .scroll((scroll, 0))
                .block(Block::new().borders(Borders::ALL).title(format!(" {} ", step.title))),
            pane,
        );
        drawn
    }
}
