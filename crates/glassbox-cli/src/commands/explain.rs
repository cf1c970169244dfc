//! `glassbox explain`: the black box opened for one example.
//!
//! Every number printed comes from `glassbox::explain`, which runs the engine's own
//! forward pass, back-propagation and one gradient-descent step on a batch of one. This
//! file only lays the numbers out beside the formulas that produced them, in the
//! article's words (weighted sum, activation, error, learning rate) and the symbols of
//! the library's docs:
//!
//! ```text
//! z = Σᵢ wⱼᵢ·aᵢ + bⱼ      a = f(z)      δ = ∂C/∂z
//! ∂C/∂wⱼᵢ = δⱼ·aᵢ        ∂C/∂bⱼ = δⱼ    w ← w − η·∂C/∂w
//! ```

use crate::args::ExplainArgs;
use crate::error::{library_message, usage};
use crate::model::Model;
use crate::outln;
use crate::spec::Source;
use anyhow::{Context, Result};
use glassbox::explain::{explain, Explanation, LayerTrace};
use glassbox::layer::Dense;
use glassbox::tensor::Tensor;
use glassbox::{Activation, Loss, Network, Optimizer};
use serde_json::json;

/// Terms shown per sum and weights per neuron before `…` (all with `--all`). When a
/// layer is wider, the terms with the largest |wᵢxᵢ| (and the largest gradients) are
/// shown, largest first.
const SHOWN_TERMS: usize = 8;

/// The built-in example: a 2-2-1 sigmoid network, the article's smallest deep network,
/// on the XOR example x = (1, 0) with target y = 1. The weights are fixed, chosen by
/// hand to be readable, not trained: the network gets this example wrong-ish (a ≈ 0.6),
/// so the step has something to correct.
///
/// ```text
/// hidden  W¹ = [[ 0.8, −0.4],    b¹ = [−0.2, 0.1]
///               [ 0.3,  0.6]]
/// output  W² = [[ 1.2, −0.7]]    b² = [ 0.05]
/// ```
fn builtin() -> Result<(Network, Vec<f32>, Vec<f32>)> {
    let hidden = Dense::from_parts(
        Tensor::from_vec(2, 2, vec![0.8, -0.4, 0.3, 0.6])?,
        vec![-0.2, 0.1],
        Activation::Sigmoid,
    )?;
    let output = Dense::from_parts(
        Tensor::from_vec(1, 2, vec![1.2, -0.7])?,
        vec![0.05],
        Activation::Sigmoid,
    )?;
    Ok((
        Network::from_layers(vec![hidden, output])?,
        vec![1.0, 0.0],
        vec![1.0],
    ))
}

/// Runs `explain`.
pub fn run(args: &ExplainArgs) -> Result<()> {
    if let Some(lr) = args.lr.filter(|lr| !(*lr >= 0.0 && lr.is_finite())) {
        return Err(usage(format!(
            "--lr {lr}: the learning rate must be a number ≥ 0"
        )));
    }
    // The article's η = 0.5 for plain gradient descent; the others' usual rates.
    let lr = match args.optimizer.trim().to_ascii_lowercase().as_str() {
        "sgd" => Some(args.lr.unwrap_or(0.5)),
        _ => args.lr,
    };
    let optimizer = crate::args::optimizer(&args.optimizer, lr, args.momentum)?;
    if let Optimizer::Momentum(m) | Optimizer::Nesterov(m) = optimizer {
        if !(0.0..1.0).contains(&m.momentum) {
            return Err(usage(format!(
                "--momentum {}: momentum must be in [0, 1)",
                m.momentum
            )));
        }
    }
    let (network, input, target, loss, origin, class_names) = match (&args.model, &args.data) {
        (None, None) => {
            let (network, input, target) = builtin()?;
            let loss = args.loss.unwrap_or(Loss::Mse);
            let origin =
                "the built-in 2-2-1 network (fixed weights) on the XOR example x = (1, 0), y = 1"
                    .to_string();
            (network, input, target, loss, origin, Vec::new())
        }
        (Some(path), Some(spec)) => {
            let model = Model::load(path)?;
            let source = Source::parse(spec).context("--data")?;
            let (data, own_test) = source.load(&model.data_args(&args.data_args), 0)?;
            let (data, part) = match own_test {
                Some(test) => (test, "the test set of "),
                None => (data, ""),
            };
            let what = format!("{part}{source}");
            let data = model.prepare(data, &what)?;
            if args.sample >= data.len() {
                return Err(usage(format!(
                    "--sample {}: {what} has {} examples (0 to {})",
                    args.sample,
                    data.len(),
                    data.len() - 1
                )));
            }
            let mut target = vec![0.0; data.target_width()];
            data.write_target_row(args.sample, &mut target);
            let class = data
                .labels()
                .map(|labels| format!(", class {:?}", model.class_name(labels[args.sample])))
                .unwrap_or_default();
            let origin = format!(
                "{} on example {} of {what}{class}",
                path.display(),
                args.sample
            );
            let loss = args.loss.unwrap_or_else(|| model.loss());
            let input = data.row(args.sample).to_vec();
            let names = model.info.class_names.clone();
            (model.network, input, target, loss, origin, names)
        }
        (Some(_), None) => return Err(usage("--model needs --data SPEC to take the example from")),
        (None, Some(_)) => {
            return Err(usage(
                "--data needs --model MODEL (without both, the built-in network is explained)",
            ))
        }
    };
    if let Err(e) = loss.check_output(network.output_activation()) {
        return Err(usage(format!(
            "--loss {loss}: {}; use --loss mse, or leave --loss out",
            library_message(e)
        )));
    }
    let trace = explain(&network, &input, &target, loss, &optimizer)?;
    if args.json {
        outln!("{}", to_json(&trace, &network, loss, &origin, &class_names));
        return Ok(());
    }
    let limit = if args.all { usize::MAX } else { SHOWN_TERMS };
    Printer {
        limit,
        optimizer: trace.optimizer,
        target: &trace.target,
        rate_note: if args.lr.is_some() || args.model.is_none() {
            ""
        } else {
            // A model file records its loss but not the rate it was trained with.
            " (explain's default, not the rate the model was trained with, which its file \
             does not record: --lr sets it)"
        },
    }
    .print(&trace, &network, loss, &origin)
}

/// The trace as one JSON object: the library's field names, plus the short names `z`
/// and `a` of the formulas.
fn to_json(
    trace: &Explanation,
    network: &Network,
    loss: Loss,
    origin: &str,
    class_names: &[String],
) -> serde_json::Value {
    let layers: Vec<_> = trace
        .layers
        .iter()
        .enumerate()
        .map(|(l, t)| {
            json!({
                "layer": l + 1,
                "activation": t.activation.to_string(),
                "input": t.input,
                "weights": t.weights,
                "biases": t.biases,
                "z": t.weighted_sums,
                "a": t.activations,
                "delta": t.delta,
                "grad_weights": t.grad_weights,
                "grad_biases": t.grad_biases,
                "new_weights": t.new_weights,
                "new_biases": t.new_biases,
            })
        })
        .collect();
    json!({
        "example": origin,
        "sizes": network.sizes(),
        "loss_function": loss.name(),
        "optimizer": trace.optimizer.name(),
        "learning_rate": trace.learning_rate,
        "input": trace.input,
        "target": trace.target,
        "output": trace.layers.last().map(|t| &t.activations),
        "class_names": class_names,
        "loss": trace.loss,
        "layers": layers,
    })
}

/// Subscript digits: 12 → ₁₂.
fn sub(n: usize) -> String {
    n.to_string()
        .chars()
        .map(|c| char::from_u32(0x2080 + c.to_digit(10).unwrap_or(0)).unwrap_or(c))
        .collect()
}

/// Superscript digits: 2 → ².
fn sup(n: usize) -> String {
    const DIGITS: [char; 10] = ['⁰', '¹', '²', '³', '⁴', '⁵', '⁶', '⁷', '⁸', '⁹'];
    n.to_string()
        .chars()
        .map(|c| DIGITS[c.to_digit(10).unwrap_or(0) as usize])
        .collect()
}

/// Two subscripts, separated so that they read as two: (1, 25) → ₁,₂₅ (w₁,₂₅ is the
/// weight from input 25 into neuron 1, where w₁₂₅ could be w₁₂,₅).
fn sub2(j: usize, i: usize) -> String {
    format!("{},{}", sub(j), sub(i))
}

/// A number with 4 decimals and a true minus sign (−, not the hyphen), in parentheses
/// when negative so that sums and products read well: `0.8000 + (−0.4000)·(−0.6000)`.
fn num(v: f32) -> String {
    if v < 0.0 {
        format!("({})", signed(v, 4))
    } else {
        format!("{v:.4}")
    }
}

/// `v` with `decimals` decimals and a true minus sign: −0.095981.
fn signed(v: f32, decimals: usize) -> String {
    let text = format!("{v:.decimals$}");
    match text.strip_prefix('-') {
        Some(digits) => format!("−{digits}"),
        None => text,
    }
}

/// The formula of f and f′ for an activation, in words the article uses.
fn describe(f: Activation) -> (&'static str, &'static str) {
    match f {
        Activation::Step => ("step(z) = 1 if z ≥ 0 else 0", "0 (the step is flat)"),
        Activation::Identity => ("z (linear)", "1"),
        Activation::Sigmoid => ("σ(z) = 1 / (1 + e⁻ᶻ)", "σ′(z) = a·(1 − a)"),
        Activation::Tanh => ("tanh(z)", "1 − a²"),
        Activation::Relu => ("ReLU(z) = max(0, z)", "1 if z > 0 else 0"),
        Activation::LeakyRelu { .. } => ("leaky ReLU(z) = z if z > 0 else α·z", "1 or α"),
        Activation::Softmax => ("softmax(z)ⱼ = eᶻʲ / Σₖ eᶻᵏ", "(fused with the loss)"),
    }
}

/// The name of layer `l`'s inputs (from 1): x for the first layer (the example's
/// features, also written a⁰), a^(l−1) for the others.
fn input_symbol(l: usize) -> String {
    if l == 1 {
        "x".to_string()
    } else {
        format!("a{}", sup(l - 1))
    }
}

/// The activation's short symbol in `a = f(z)`.
fn symbol(f: Activation) -> &'static str {
    match f {
        Activation::Step => "step",
        Activation::Identity => "identity",
        Activation::Sigmoid => "σ",
        Activation::Tanh => "tanh",
        Activation::Relu => "ReLU",
        Activation::LeakyRelu { .. } => "leaky-ReLU",
        Activation::Softmax => "softmax",
    }
}

/// Lays the trace out as text.
struct Printer<'a> {
    /// Terms shown per sum.
    limit: usize,
    /// The optimiser whose step is shown.
    optimizer: Optimizer,
    /// y, the example's target.
    target: &'a [f32],
    /// Where η came from, when --lr did not give it.
    rate_note: &'a str,
}

impl Printer<'_> {
    /// The step of parameter `p` from `old` to `new`, in the optimiser's words.
    fn step(&self, p: &str, old: f32, new: f32) -> String {
        match self.optimizer {
            Optimizer::Sgd(_) => format!(
                "new {p} = {} − η·∂C/∂{p} = {}",
                signed(old, 4),
                signed(new, 6)
            ),
            o => format!(
                "new {p} = {} ({}'s step from {})",
                signed(new, 6),
                o.name(),
                signed(old, 4)
            ),
        }
    }

    /// The order in which a sum's `count` terms are shown: as they come when all fit
    /// (or with `--all`); else the largest `|size(i)|` first, so that a wide layer (an
    /// image's 784 pixels, mostly a zero border) shows the terms that make the sum.
    fn order(&self, count: usize, size: impl Fn(usize) -> f32) -> Vec<usize> {
        let mut order: Vec<usize> = (0..count).collect();
        if count > self.limit {
            // Stable: equal sizes keep their input order.
            order.sort_by(|&a, &b| size(b).abs().total_cmp(&size(a).abs()));
        }
        order
    }

    /// `t₁ + t₂ + … ` over `values` (one per term, in input order), with `term(i)` the
    /// text of term i: at most `limit` terms, the largest first when some are left out
    /// (each then names its input, and the rest are summed).
    fn sum(&self, values: &[f32], term: impl Fn(usize) -> String) -> String {
        let count = values.len();
        let order = self.order(count, |i| values[i]);
        let wide = count > self.limit;
        let mut shown: Vec<String> = order
            .iter()
            .take(self.limit)
            .map(|&i| {
                if wide {
                    format!("{} [i={}]", term(i), i + 1)
                } else {
                    term(i)
                }
            })
            .collect();
        if wide {
            let rest: f32 = order[self.limit..].iter().map(|&i| values[i]).sum();
            shown.push(format!(
                "… ({} smaller terms, together {}; --all shows them)",
                count - self.limit,
                num(rest)
            ));
        }
        shown.join(" + ")
    }

    fn print(
        &self,
        trace: &Explanation,
        network: &Network,
        loss: Loss,
        origin: &str,
    ) -> Result<()> {
        let layers = &trace.layers;
        let last = layers.len();
        outln!("Explaining {origin}.");
        outln!(
            "Network: {} — loss: {}, {}",
            network
                .sizes()
                .iter()
                .map(usize::to_string)
                .collect::<Vec<_>>()
                .join("-"),
            loss_words(loss),
            match self.optimizer {
                Optimizer::Sgd(_) => format!(
                    "learning rate η = {}{}",
                    trace.learning_rate, self.rate_note
                ),
                Optimizer::Rprop(_) => "optimizer rprop (a step size per weight, no η)".into(),
                o => format!(
                    "optimizer {}, learning rate η = {}{}",
                    o.name(),
                    trace.learning_rate,
                    self.rate_note
                ),
            }
        );
        outln!("Input x = a⁰ = [{}]", self.list(&trace.input));
        outln!("Target y = [{}]", self.list(&trace.target));
        outln!();
        outln!("FORWARD PASS — each neuron multiplies its inputs by its weights, adds its bias");
        outln!("(the weighted sum z), and passes z through its activation function (a = f(z)).");
        for (l, t) in layers.iter().enumerate() {
            self.forward(l + 1, last, t)?;
        }
        outln!();
        let output = &layers[last - 1];
        outln!(
            "Output a{} = [{}]; the target was y = [{}].",
            sup(last),
            self.list(&output.activations),
            self.list(&trace.target)
        );
        outln!(
            "The error of this example (the loss): C = {:.6}",
            trace.loss
        );
        outln!();
        outln!("BACKWARD PASS — back-propagation: how much each weighted sum is to blame,");
        outln!("δ = ∂C/∂z, from the output layer back to the first; then every weight's");
        outln!("gradient ∂C/∂w = δ · (the input it multiplies) and one gradient-descent step,");
        match self.optimizer {
            Optimizer::Sgd(_) => {
                outln!("w ← w − η·∂C/∂w, which moves each weight a little against its gradient.")
            }
            o => outln!(
                "here {}'s first step (the trainer's own update; see `glassbox::optim`), which \
                 moves each weight against its gradient.",
                o.name()
            ),
        }
        for l in (0..last).rev() {
            self.backward(l + 1, last, &layers[l], layers.get(l + 1), loss)?;
        }
        outln!();
        outln!(
            "After this step the same example would give a smaller error (for a small enough η);"
        );
        outln!("training repeats it for every example, epoch after epoch.");
        Ok(())
    }

    fn list(&self, values: &[f32]) -> String {
        let mut shown: Vec<String> = values
            .iter()
            .take(self.limit.max(16))
            .map(|&v| signed(v, 4))
            .collect();
        if values.len() > shown.len() {
            shown.push(format!("… {} values in all", values.len()));
        }
        shown.join(", ")
    }

    fn forward(&self, l: usize, last: usize, t: &LayerTrace) -> Result<()> {
        let (f, _) = describe(t.activation);
        let role = if l == last {
            "output layer"
        } else {
            "hidden layer"
        };
        outln!();
        outln!(
            "Layer {l} ({role}, {} neuron{}, activation {f})",
            t.biases.len(),
            if t.biases.len() == 1 { "" } else { "s" }
        );
        let previous = input_symbol(l);
        outln!("  inputs {previous} = [{}]", self.list(&t.input));
        for (j, weights) in t.weights.iter().enumerate() {
            let products: Vec<f32> = weights.iter().zip(&t.input).map(|(w, a)| w * a).collect();
            let term = |i: usize| format!("{}·{}", num(weights[i]), num(t.input[i]));
            outln!(
                "  neuron {}: weights w{},ᵢ = [{}], bias b{} = {}",
                j + 1,
                sub(j + 1),
                self.list(weights),
                sub(j + 1),
                num(t.biases[j])
            );
            outln!(
                "    weighted sum z{} = {} + {} = {}",
                sub(j + 1),
                self.sum(&products, term),
                num(t.biases[j]),
                signed(t.weighted_sums[j], 4)
            );
            let fz = match t.activation {
                Activation::Softmax => "softmax(z)".to_string(),
                f => format!("{}({})", symbol(f), signed(t.weighted_sums[j], 4)),
            };
            outln!(
                "    activation  a{} = {fz} = {}",
                sub(j + 1),
                signed(t.activations[j], 4)
            );
        }
        Ok(())
    }

    fn backward(
        &self,
        l: usize,
        last: usize,
        t: &LayerTrace,
        above: Option<&LayerTrace>,
        loss: Loss,
    ) -> Result<()> {
        let (_, derivative) = describe(t.activation);
        outln!();
        outln!(
            "Layer {l} ({})",
            if l == last {
                "output layer"
            } else {
                "hidden layer"
            }
        );
        for j in 0..t.delta.len() {
            let slope = t
                .activation
                .derivative(t.weighted_sums[j], t.activations[j]);
            match above {
                None => match loss {
                    Loss::Mse => outln!(
                        "  neuron {}: error a − y = {} − {}; f′(z) = {derivative} = {}\n    δ{} = (a − y)·f′(z) = {}",
                        j + 1,
                        num(t.activations[j]),
                        num(self.target[j]),
                        signed(slope, 4),
                        sub(j + 1),
                        signed(t.delta[j], 6)
                    ),
                    _ => outln!(
                        "  neuron {}: error a − y = {} − {}; the loss's derivative cancels f′(z), so\n    δ{} = a − y = {}",
                        j + 1,
                        num(t.activations[j]),
                        num(self.target[j]),
                        sub(j + 1),
                        signed(t.delta[j], 6)
                    ),
                },
                Some(up) => {
                    let products: Vec<f32> =
                        up.weights.iter().zip(&up.delta).map(|(row, d)| row[j] * d).collect();
                    let term = |k: usize| format!("{}·{}", num(up.weights[k][j]), num(up.delta[k]));
                    outln!(
                        "  neuron {}: error sent back from layer {}: Σₖ w{}ₖ,{}·δₖ = {}",
                        j + 1,
                        l + 1,
                        sup(l + 1),
                        sub(j + 1),
                        self.sum(&products, term)
                    );
                    outln!(
                        "    f′(z) = {derivative} = {}\n    δ{} = (Σₖ w{}ₖ,{}·δₖ)·f′(z) = {}",
                        signed(slope, 4),
                        sub(j + 1),
                        sup(l + 1),
                        sub(j + 1),
                        signed(t.delta[j], 6)
                    );
                }
            }
            let count = t.input.len();
            // The largest gradients first when some are left out (∂C/∂w = δ·a is 0 for
            // every zero input).
            let grads = &t.grad_weights[j];
            for i in self.order(count, |i| grads[i]).into_iter().take(self.limit) {
                let (g, w, nw) = (grads[i], t.weights[j][i], t.new_weights[j][i]);
                outln!(
                    "    ∂C/∂w{} = δ{}·{}{} = {}·{} = {}   {}",
                    sub2(j + 1, i + 1),
                    sub(j + 1),
                    input_symbol(l),
                    sub(i + 1),
                    num(t.delta[j]),
                    num(t.input[i]),
                    signed(g, 6),
                    self.step("w", w, nw)
                );
            }
            if count > self.limit {
                outln!(
                    "    … {} more weights, with smaller gradients (--all shows them)",
                    count - self.limit
                );
            }
            outln!(
                "    ∂C/∂b{} = δ{} = {}   {}",
                sub(j + 1),
                sub(j + 1),
                signed(t.grad_biases[j], 6),
                self.step("b", t.biases[j], t.new_biases[j])
            );
        }
        Ok(())
    }
}

/// The loss in words.
fn loss_words(loss: Loss) -> &'static str {
    match loss {
        Loss::Mse => "mean squared error C = ½‖a − y‖²",
        Loss::CrossEntropy => "cross-entropy C = −Σⱼ yⱼ·log aⱼ (softmax output)",
        Loss::BinaryCrossEntropy => {
            "binary cross-entropy C = −Σⱼ [yⱼ·log aⱼ + (1 − yⱼ)·log(1 − aⱼ)]"
        }
    }
}
