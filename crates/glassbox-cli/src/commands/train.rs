//! `glassbox train`: data → network → trainer → model file, and a report.

use crate::args::{TrainArgs, TrainPlan};
use crate::error::{usage, Interrupted};
use crate::model::{self, relabel, Model};
use crate::mpi::World;
use crate::outln;
use crate::plot::{self, Figure};
use crate::progress::{self, percent, Display, Progress};
use crate::spec::Source;
use anyhow::{bail, Context, Result};
use glassbox::data::{Dataset, Scaler, Scaling};
use glassbox::io::{Loaded, ModelInfo, Weights};
use glassbox::metrics::{evaluate_with, Evaluation};
use glassbox::tensor::Parallelism;
use glassbox::train::{Checkpoint, History, StopReason};
use glassbox::{Error, Network, Trainer};
use serde_json::json;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// XORed into `--seed` for the validation split, so it differs from the test split.
const VALIDATION_SEED: u64 = 0x7A1D;

/// The data of a run, split and scaled.
struct Parts {
    train: Dataset,
    validation: Option<Dataset>,
    test: Option<Dataset>,
    scaler: Option<Scaler>,
    description: String,
}

/// Runs `train`: as an ordinary process, or as one rank of `mpirun -np N` (the `mpi`
/// feature, see `crate::mpi`), where a rank that fails ends the job.
pub fn run(args: &TrainArgs) -> Result<()> {
    let world = World::join()?;
    train(args, &world).map_err(|e| world.fail(e))
}

/// Trains as rank `world.rank()` of `world.size()`: rank 0 alone prints and writes.
fn train(args: &TrainArgs, world: &World) -> Result<()> {
    let started = Instant::now();
    let plan = TrainPlan::try_from(args)?;
    let leads = world.leads();
    if let Some(note) = plan.threads_note.as_ref().filter(|_| leads) {
        eprintln!("note: {note}");
    }
    // Every file the run writes is checked before the first epoch (by the rank that
    // writes them: rank 0 under mpirun).
    if leads {
        check_output_path(&args.out, "--out")?;
        for (path, flag) in [(&args.plot, "--plot"), (&args.history, "--history")] {
            if let Some(path) = path {
                check_output_path(path, flag)?;
            }
        }
        if let Some(path) = &args.plot {
            plot::check_extension(path).map_err(|e| usage(format!("--plot: {e:#}")))?;
        }
        if let Some(dir) = &args.checkpoint {
            check_checkpoint_dir(dir)?;
        }
    }
    let display = Display::choose(args.quiet || !leads, args.json);
    let initial = match &args.init_from {
        Some(path) => Some(Initial::load(path)?),
        None => None,
    };
    let parts = load_parts(args, &plan, initial.as_ref())?;
    if let Some(warning) = unscaled_warning(args, &parts) {
        eprintln!("warning: {warning}");
    }
    let mut network = build_network(args, &plan, &parts.train, initial.as_ref())?;
    network.check_trainable().map_err(|e| {
        let flag = match (&args.init_from, plan.activation) {
            (Some(path), _) => format!("--init-from {}", path.display()),
            (None, glassbox::Activation::Step) => "--activation step".into(),
            (None, _) => "--output step".into(),
        };
        anyhow::Error::new(e).context(flag)
    })?;
    let info = ModelInfo {
        class_names: parts.train.class_names().to_vec(),
        scaler: parts.scaler.clone(),
        image_shape: parts.train.image_shape(),
        loss: Some(plan.config.loss),
    };

    // The validation split was made above, before scaling, and is passed to the
    // trainer as a data set.
    let mut trainer = Trainer::new(plan.config.clone());
    if let Some(workers) = world.workers() {
        trainer = trainer.workers(workers);
    }
    let mut observer = Progress::new(display);
    if let Some(dir) = args.checkpoint.as_ref().or(args.resume.as_ref()) {
        if leads {
            trainer = trainer.checkpoint(checkpoint_file(dir), args.checkpoint_every);
        }
    }
    if let Some(dir) = &args.resume {
        let from = Checkpoint::load(checkpoint_file(dir))
            .with_context(|| format!("--resume {}", dir.display()))?;
        observer.line(&format!(
            "resuming from {} after epoch {}",
            dir.display(),
            from.epoch()
        ));
        trainer = trainer.resume(from);
    } else if let Some(dir) = args.checkpoint.as_ref().filter(|_| leads) {
        save_command_line(dir)?;
    }
    observer.line(&format!(
        "training {} on {}: {} training examples{}{}{}",
        architecture(&network),
        parts.description,
        parts.train.len(),
        match world.size() {
            1 => String::new(),
            n => format!(" shared by {n} MPI ranks"),
        },
        parts
            .validation
            .as_ref()
            .map(|v| format!(", {} validation", v.len()))
            .unwrap_or_default(),
        parts
            .test
            .as_ref()
            .map(|t| format!(", {} test", t.len()))
            .unwrap_or_default(),
    ));
    // Started before training, so that its URL is printed first.
    let dashboard = match args.dashboard.filter(|_| leads) {
        Some(port) => Some(super::dashboard::start(
            port,
            format!("{} on {}", architecture(&network), parts.description),
            args.epochs,
            parts.train.len(),
        )?),
        None => None,
    };
    let training = Instant::now();
    let history = if args.epochs == 0 {
        Ok(History {
            epochs: Vec::new(),
            stop: StopReason::Completed,
        })
    } else {
        progress::install_ctrlc();
        let (train, mut validation, mut test) =
            (&parts.train, parts.validation.as_ref(), parts.test.as_ref());
        if !leads {
            // Only early stopping, which every rank must agree on, needs the validation
            // loss on every rank; rank 0 measures the rest.
            validation = validation.filter(|_| plan.config.early_stopping.is_some());
            test = None;
        }
        match &dashboard {
            Some(served) => {
                let mut watch = glassbox_web::dashboard::Watch::new(&mut observer, served.run());
                trainer
                    .validation(validation)
                    .test(test)
                    .observer(&mut watch)
                    .fit(&mut network, train)
            }
            None => trainer
                .validation(validation)
                .test(test)
                .observer(&mut observer)
                .fit(&mut network, train),
        }
    };
    let training_seconds = training.elapsed().as_secs_f64();
    observer.finish();
    world.report_times(training_seconds);
    if !leads {
        // Divergence is seen by every rank at once (the summed loss): rank 0 says so.
        return match history {
            Ok(_) | Err(Error::Diverged { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        };
    }
    let history = match history {
        Ok(history) => history,
        Err(e @ Error::Diverged { .. }) => {
            // The trainer left the weights of the last finished epoch: keep them.
            glassbox::io::save(&args.out, &network, &info)
                .with_context(|| format!("{}: cannot save the model", args.out.display()))?;
            return Err(anyhow::Error::new(e).context(format!(
                "the last good weights were saved to {}",
                args.out.display()
            )));
        }
        Err(e) => return Err(e.into()),
    };

    glassbox::io::save(&args.out, &network, &info)
        .with_context(|| format!("{}: cannot save the model", args.out.display()))?;
    if let Some(path) = &args.history {
        write_history_csv(path, &history)?;
    }
    if let Some(path) = &args.plot {
        plot::save(path, &Figure::History(&history))?;
    }

    let loss = plan.config.loss;
    let par = match plan.config.threads {
        1 => Parallelism::Sequential,
        n => Parallelism::Threads(n),
    };
    let measure = |data: &Dataset| evaluate_with(&network, data, loss, par);
    let train_eval = measure(&parts.train)?;
    let validation_eval = parts.validation.as_ref().map(measure).transpose()?;
    let test_eval = parts.test.as_ref().map(measure).transpose()?;
    let report = Report {
        args,
        plan: &plan,
        network: &network,
        history: &history,
        parts: &parts,
        train: &train_eval,
        validation: validation_eval.as_ref(),
        test: test_eval.as_ref(),
        training_seconds,
        total_seconds: started.elapsed().as_secs_f64(),
    };
    if args.json {
        outln!("{}", report.json());
    } else if !args.quiet {
        report.print()?;
    }
    if let Some(served) = &dashboard {
        served.finish_and_wait(&history, &args.out);
    }
    if history.stop == StopReason::Interrupted {
        let how = match args.checkpoint.as_ref().or(args.resume.as_ref()) {
            Some(dir) => format!(
                "; to go on from there: glassbox train --resume {} --epochs {}",
                shell_word(&dir.display().to_string()),
                args.epochs
            ),
            None => "; to be able to resume a run where it stopped, train with \
                     --checkpoint DIR"
                .to_string(),
        };
        return Err(anyhow::Error::new(Interrupted(format!(
            "interrupted: training stopped after epoch {} of {}; the model of that last \
             finished epoch was saved to {}{how}",
            history.epochs.len(),
            args.epochs,
            args.out.display()
        ))));
    }
    Ok(())
}

/// `word` as one word of a POSIX shell command: as it is when it is plain, else quoted.
fn shell_word(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// Fails early when the --checkpoint directory is a file or cannot be created or
/// written in.
fn check_checkpoint_dir(dir: &Path) -> Result<()> {
    if dir.exists() && !dir.is_dir() {
        return Err(usage(format!(
            "--checkpoint {}: is a file; give a directory",
            dir.display()
        )));
    }
    std::fs::create_dir_all(dir).with_context(|| {
        format!(
            "--checkpoint {}: cannot create the directory",
            dir.display()
        )
    })?;
    check_output_path(&checkpoint_file(dir), "--checkpoint")
}

/// The checkpoint file in a --checkpoint directory.
fn checkpoint_file(dir: &Path) -> PathBuf {
    dir.join("checkpoint.safetensors")
}

/// The command line that started a checkpointed run, beside its checkpoint.
fn command_file(dir: &Path) -> PathBuf {
    dir.join("command.json")
}

/// Creates the --checkpoint directory and records this command line in it, so that
/// `glassbox train --resume DIR` alone can repeat it.
fn save_command_line(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| {
        format!(
            "--checkpoint {}: cannot create the directory",
            dir.display()
        )
    })?;
    let argv: Vec<String> = std::env::args_os()
        .skip(1)
        .map(|a| a.into_string())
        .collect::<std::result::Result<_, _>>()
        .map_err(|a| {
            usage(format!(
                "--checkpoint: the argument {a:?} is not UTF-8 text"
            ))
        })?;
    let json = serde_json::to_vec_pretty(&argv)?;
    glassbox::file::write_atomically(command_file(dir), &json)
        .with_context(|| format!("--checkpoint {}", dir.display()))?;
    Ok(())
}

/// The command line to run: this process's, or, for `train --resume DIR [FLAGS]`, the
/// one recorded in DIR with FLAGS put in place of the recorded values of the same flags
/// (`--resume DIR --epochs 12` replays the run with 12 epochs) and `--resume DIR` added.
/// Without a recorded command line, `--resume DIR` alone is refused and, with other
/// flags, those flags are the whole command (they must describe the checkpointed run).
///
/// # Errors
/// When DIR holds no readable command line and no other flag was given, or the record
/// is not a command line.
pub fn expand_resume(argv: Vec<OsString>) -> Result<Vec<OsString>> {
    let text: Option<Vec<&str>> = argv.iter().skip(1).map(|a| a.to_str()).collect();
    let Some(text) = text else {
        return Ok(argv);
    };
    if text.first() != Some(&"train") {
        return Ok(argv);
    }
    let given = flag_groups(&text[1..]);
    let Some(dir) = given.iter().find_map(|g| match g.id.as_deref() {
        Some("resume") => g.value(),
        _ => None,
    }) else {
        return Ok(argv);
    };
    let others: Vec<&FlagGroup> = given
        .iter()
        .filter(|g| g.id.as_deref() != Some("resume"))
        .collect();
    let path = command_file(Path::new(&dir));
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(_) if !others.is_empty() => return Ok(argv),
        Err(e) => {
            return Err(usage(format!(
                "--resume {dir}: {}: {e} (is it a --checkpoint directory?)",
                path.display()
            )))
        }
    };
    let recorded: Vec<String> = serde_json::from_slice(&bytes).map_err(|e| {
        usage(format!(
            "--resume {dir}: {}: not a recorded command line ({e})",
            path.display()
        ))
    })?;
    let recorded_text: Vec<&str> = recorded.iter().map(String::as_str).collect();
    let start = usize::from(recorded_text.first() == Some(&"train"));
    let mut expanded = vec![argv[0].clone(), OsString::from("train")];
    // The recorded flags, less those given again now, then those given now.
    for group in flag_groups(&recorded_text[start..]) {
        let replaced = group.id.is_some()
            && (group.id.as_deref() == Some("resume") || others.iter().any(|g| g.id == group.id));
        if !replaced {
            expanded.extend(group.tokens.iter().map(OsString::from));
        }
    }
    for group in others {
        expanded.extend(group.tokens.iter().map(OsString::from));
    }
    expanded.extend([OsString::from("--resume"), OsString::from(dir)]);
    Ok(expanded)
}

/// One flag of a `train` command line with its value, as clap will read it.
#[derive(Debug)]
struct FlagGroup {
    /// The flag's clap id (`epochs` for `--epochs`); `None` for a token that is no flag.
    id: Option<String>,
    /// The tokens: `["--epochs", "12"]`, `["--epochs=12"]` or `["--quiet"]`.
    tokens: Vec<String>,
}

impl FlagGroup {
    /// The flag's value, if it has one.
    fn value(&self) -> Option<String> {
        match self.tokens.as_slice() {
            [flag] => flag.split_once('=').map(|(_, v)| v.to_string()),
            [_, value, ..] => Some(value.clone()),
            [] => None,
        }
    }
}

/// Splits the arguments of `train` into flags with their values, by the flags' own
/// definitions (which take a value, which may take one).
fn flag_groups(tokens: &[&str]) -> Vec<FlagGroup> {
    use clap::CommandFactory;
    let mut cli = crate::args::Cli::command();
    cli.build();
    let Some(train) = cli.find_subcommand("train") else {
        return Vec::new();
    };
    let find = |token: &str| -> Option<&clap::Arg> {
        if let Some(long) = token.strip_prefix("--") {
            train.get_arguments().find(|a| {
                a.get_long() == Some(long)
                    || a.get_all_aliases()
                        .is_some_and(|names| names.contains(&long))
            })
        } else {
            let mut chars = token.strip_prefix('-')?.chars();
            let (short, None) = (chars.next()?, chars.next()) else {
                return None;
            };
            train.get_arguments().find(|a| a.get_short() == Some(short))
        }
    };
    let mut groups = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        let token = tokens[i];
        i += 1;
        let (name, inline_value) = match token.split_once('=') {
            Some((name, _)) if name.starts_with("--") => (name, true),
            _ => (token, false),
        };
        let Some(arg) = find(name) else {
            groups.push(FlagGroup {
                id: None,
                tokens: vec![token.to_string()],
            });
            continue;
        };
        let mut group = vec![token.to_string()];
        let takes = arg.get_action().takes_values();
        let required = arg.get_num_args().map_or(1, |n| n.min_values());
        if takes && !inline_value {
            if let Some(next) = tokens.get(i) {
                if required > 0 || !next.starts_with('-') {
                    group.push(next.to_string());
                    i += 1;
                }
            }
        }
        groups.push(FlagGroup {
            id: Some(arg.get_id().to_string()),
            tokens: group,
        });
    }
    groups
}

/// Fails early, before any work, when `path` could not be written: a directory, a
/// directory that does not exist, or one that does not take new files (read-only, or
/// not a real file system). It checks by creating and removing a probe file beside it.
pub(crate) fn check_output_path(path: &Path, flag: &str) -> Result<()> {
    if path.is_dir() {
        return Err(usage(format!(
            "{flag} {}: is a directory; give a file name",
            path.display()
        )));
    }
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if !parent.is_dir() {
        bail!(
            "{flag} {}: the directory {} does not exist",
            path.display(),
            parent.display()
        );
    }
    let probe = parent.join(format!(".glassbox-probe-{}", std::process::id()));
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
    {
        Ok(_) => {
            let _ = std::fs::remove_file(&probe);
            Ok(())
        }
        Err(e) => bail!(
            "{flag} {}: cannot write in the directory {} ({e})",
            path.display(),
            parent.display()
        ),
    }
}

/// Loads `--data` (and `--test`), holds out the test and validation parts, and fits
/// the scaler on what is left for training.
fn load_parts(args: &TrainArgs, plan: &TrainPlan, initial: Option<&Initial>) -> Result<Parts> {
    let source = Source::parse(&args.data).context("--data")?;
    let (data, own_test) = source.load(&args.data_args, args.seed)?;
    let mut description = source.to_string();
    let (mut train, mut test) = match &args.test {
        Some(spec) => {
            let test_source = Source::parse(spec).context("--test")?;
            let (first, second) = test_source.load(&args.data_args, args.seed ^ 1)?;
            // A SPEC with its own test set contributes that test set.
            let test = relabel(second.unwrap_or(first), data.class_names(), "--test data")?;
            description += &format!(", tested on {test_source}");
            (data, Some(test))
        }
        None if source.has_own_test_set() => {
            if plan.test_split_given && plan.test_split.is_some() {
                return Err(usage(format!(
                    "--test-split: {} brings its own test set (use --test-split 0 to \
                     train without one)",
                    args.data
                )));
            }
            (
                data,
                if plan.test_split.is_some() {
                    own_test
                } else {
                    None
                },
            )
        }
        None => match plan.test_split {
            Some(fraction) => {
                let (train, test) = data
                    .split(fraction, args.seed)
                    .context("--test-split: holding out the test set")?;
                (train, Some(test))
            }
            None => (data, None),
        },
    };
    let scaled = args.scale != Scaling::None || initial.and_then(Initial::scaler).is_some();
    if train.is_streamed() && (scaled || plan.validation_split.is_some()) {
        bail!(
            "--stream leaves the training images in their file, but a validation split and \
             input scaling (--scale, or a --init-from model that has a scaler) need them in \
             memory: drop --stream, or drop those"
        );
    }
    let mut validation = match plan.validation_split {
        Some(fraction) => {
            let (rest, validation) = train
                .split(fraction, args.seed ^ VALIDATION_SEED)
                .context("--validation-split: holding out the validation set")?;
            train = rest;
            Some(validation)
        }
        None => None,
    };
    // Fitted on the training part only; a model started from keeps its own scaler
    // unless --scale asks for a new one.
    let scaler = match (args.scale, initial.and_then(Initial::scaler)) {
        (Scaling::None, Some(scaler)) => Some(scaler),
        (Scaling::None, None) => None,
        (scaling, _) => Some(Scaler::fit(scaling, &train)),
    };
    if let Some(scaler) = &scaler {
        for data in [Some(&mut train), validation.as_mut(), test.as_mut()]
            .into_iter()
            .flatten()
        {
            scaler.apply(data)?;
        }
    }
    if let Some(test) = &test {
        if test.width() != train.width() {
            bail!(
                "the test set has {} features per example but the training set has {}",
                test.width(),
                train.width()
            );
        }
    }
    Ok(Parts {
        train,
        validation,
        test,
        scaler,
        description,
    })
}

/// Features larger than this in an unscaled CSV file get a warning before training.
const UNSCALED_WARNING: f32 = 10.0;

/// A warning for a CSV file trained on as it is when its features are large (raw pixels
/// 0–255, prices, …): weighted sums of such inputs saturate sigmoid and tanh and make
/// gradient descent diverge, with no other sign than a loss that does not fall.
fn unscaled_warning(args: &TrainArgs, parts: &Parts) -> Option<String> {
    if parts.scaler.is_some() || !matches!(Source::parse(&args.data), Ok(Source::Csv(_))) {
        return None;
    }
    let largest = parts
        .train
        .features()
        .iter()
        .fold(0.0f32, |m, x| m.max(x.abs()));
    (largest > UNSCALED_WARNING).then(|| {
        format!(
            "{}: features reach {largest} and are not scaled; inputs that large saturate the \
             neurons and can make training diverge: add --scale minmax (each feature to \
             [0, 1], e.g. pixels 0–255) or --scale standard",
            args.data
        )
    })
}

/// Where `--init-from` starts.
enum Initial {
    /// A glassbox model file: architecture, weights and information.
    Model(Model),
    /// A file of weights alone (no glassbox architecture in it), e.g. from PyTorch.
    Weights(Weights),
}

impl Initial {
    /// Loads `path`, a model or weights alone.
    fn load(path: &Path) -> Result<Initial> {
        Ok(match model::open(path).context("--init-from")? {
            Loaded::Model { network, info } => Initial::Model(Model {
                network,
                info,
                path: path.to_path_buf(),
                int8: None,
            }),
            Loaded::Weights(weights) => Initial::Weights(weights),
        })
    }

    /// The scaler of a model file.
    fn scaler(&self) -> Option<Scaler> {
        match self {
            Initial::Model(model) => model.info.scaler.clone(),
            Initial::Weights(_) => None,
        }
    }
}

/// The network to train: from `--init-from` (its architecture, or the flags' with its
/// weights), or new from the flags.
fn build_network(
    args: &TrainArgs,
    plan: &TrainPlan,
    train: &Dataset,
    initial: Option<&Initial>,
) -> Result<Network> {
    let outputs = train.target_width();
    let from_flags = || -> Result<Network> {
        let mut builder = Network::builder(train.width());
        for &width in &plan.hidden {
            builder = builder.dense(width, plan.activation);
        }
        Ok(builder
            .dense(outputs, plan.output)
            .build(args.init, args.seed)?)
    };
    let network = match initial {
        None => from_flags()?,
        Some(Initial::Weights(weights)) => {
            // Weights alone: the flags say the architecture, the file fills it.
            let mut network = from_flags()?;
            weights.load_into(&mut network).with_context(|| {
                format!(
                    "--init-from {}: the file holds weights but no architecture, and they do \
                     not fit the network the flags describe ({})",
                    weights.path().display(),
                    architecture(&network)
                )
            })?;
            network
        }
        Some(Initial::Model(model)) => {
            if plan.layers_given {
                return Err(usage(format!(
                    "--layers: the architecture comes from --init-from {}; leave --layers out",
                    model.path.display()
                )));
            }
            let network = model.network.clone();
            if network.inputs() != train.width() || network.outputs() != outputs {
                bail!(
                    "--init-from {}: the model takes {} inputs and gives {} outputs, but the \
                     data has {} features and {} classes/targets",
                    model.path.display(),
                    network.inputs(),
                    network.outputs(),
                    train.width(),
                    outputs
                );
            }
            network
        }
    };
    Ok(network)
}

/// `64 → 32 (relu) → 10 (softmax)`.
pub fn architecture(network: &Network) -> String {
    let mut text = network.inputs().to_string();
    for layer in network.layers() {
        text += &format!(" → {} ({})", layer.outputs(), layer.activation());
    }
    text
}

/// Writes one CSV row per epoch.
fn write_history_csv(path: &Path, history: &History) -> Result<()> {
    let cell = |v: Option<f64>| v.map_or_else(String::new, |v| v.to_string());
    let mut text = String::from(
        "epoch,train_loss,train_accuracy,validation_loss,validation_accuracy,\
         test_loss,test_accuracy,learning_rate,seconds\n",
    );
    for r in &history.epochs {
        text += &format!(
            "{},{},{},{},{},{},{},{},{}\n",
            r.epoch,
            r.train_loss,
            cell(r.train_accuracy),
            cell(r.validation_loss),
            cell(r.validation_accuracy),
            cell(r.test_loss),
            cell(r.test_accuracy),
            r.learning_rate,
            r.seconds
        );
    }
    glassbox::file::write_atomically(path, text.as_bytes())
        .context("writing the training history")?;
    Ok(())
}

/// What a finished run reports.
struct Report<'a> {
    args: &'a TrainArgs,
    plan: &'a TrainPlan,
    network: &'a Network,
    history: &'a History,
    parts: &'a Parts,
    train: &'a Evaluation,
    validation: Option<&'a Evaluation>,
    test: Option<&'a Evaluation>,
    training_seconds: f64,
    total_seconds: f64,
}

impl Report<'_> {
    fn stop(&self) -> String {
        match self.history.stop {
            StopReason::Completed => "completed".into(),
            StopReason::EarlyStopped { best_epoch } => {
                format!("early-stopped (best epoch {best_epoch})")
            }
            StopReason::Interrupted => "interrupted".into(),
        }
    }

    fn json(&self) -> serde_json::Value {
        let config = &self.plan.config;
        json!({
            "data": self.parts.description,
            "architecture": self.network.sizes(),
            "activations": self.network.layers().iter().map(|l| l.activation().to_string()).collect::<Vec<_>>(),
            "parameters": self.network.parameter_count(),
            "loss": config.loss.name(),
            "optimizer": config.optimizer.name(),
            "learning_rate": config.optimizer.learning_rate(),
            "batch_size": config.batch_size,
            "seed": config.seed,
            "threads": config.threads,
            "train_examples": self.parts.train.len(),
            "validation_examples": self.parts.validation.as_ref().map(Dataset::len),
            "test_examples": self.parts.test.as_ref().map(Dataset::len),
            "epochs": self.history.epochs.len(),
            "stop": self.stop(),
            "train_loss": self.train.loss,
            "train_accuracy": self.train.accuracy,
            "validation_loss": self.validation.map(|e| e.loss),
            "validation_accuracy": self.validation.and_then(|e| e.accuracy),
            "test_loss": self.test.map(|e| e.loss),
            "test_accuracy": self.test.and_then(|e| e.accuracy),
            "test_mse": self.test.and_then(|e| e.mse),
            "seconds": self.training_seconds,
            "total_seconds": self.total_seconds,
            "seconds_per_epoch": self.history.epochs.iter().map(|r| r.seconds).collect::<Vec<_>>(),
            "model": self.args.out.display().to_string(),
            "history": self.history.epochs,
        })
    }

    fn print(&self) -> Result<()> {
        let config = &self.plan.config;
        let epochs = self.history.epochs.len();
        let work: f64 = self.history.epochs.iter().map(|r| r.seconds).sum();
        outln!("network     {}", architecture(self.network));
        outln!(
            "            {} parameters, {} loss, {} (η = {}), batch {}",
            self.network.parameter_count(),
            config.loss,
            config.optimizer.name(),
            config.optimizer.learning_rate(),
            config.batch_size
        );
        outln!("data        {}", self.parts.description);
        outln!(
            "epochs      {epochs} ({}) in {:.3} s ({:.4} s of training work per epoch)",
            self.stop(),
            self.training_seconds,
            if epochs > 0 {
                work / epochs as f64
            } else {
                0.0
            }
        );
        let line = |name: &str, e: &Evaluation| -> String {
            match (e.accuracy, e.mse) {
                (Some(a), _) => format!(
                    "{name:<11} accuracy {}  loss {:.4}  ({} examples)",
                    percent(Some(a)),
                    e.loss,
                    e.examples
                ),
                (None, Some(mse)) => format!(
                    "{name:<11} mse {mse:.5}  mae {:.5}  loss {:.4}  ({} examples)",
                    e.mae.unwrap_or(f64::NAN),
                    e.loss,
                    e.examples
                ),
                (None, None) => format!("{name:<11} loss {:.4}", e.loss),
            }
        };
        outln!("{}", line("train", self.train));
        if let Some(v) = self.validation {
            outln!("{}", line("validation", v));
        }
        if let Some(t) = self.test {
            outln!("{}", line("test", t));
        }
        outln!("model       saved to {}", self.args.out.display());
        if let Some(p) = &self.args.plot {
            outln!("plot        {}", p.display());
        }
        if let Some(p) = &self.args.history {
            outln!("history     {}", p.display());
        }
        Ok(())
    }
}
