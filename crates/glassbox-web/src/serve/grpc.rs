//! The Open Inference Protocol over gRPC: KServe v2's `inference.GRPCInferenceService`
//! (the service Triton speaks too), from `proto/grpc_predict_v2.proto`.
//!
//! `ServerLive`, `ServerReady`, `ModelReady`, `ServerMetadata`, `ModelMetadata` and
//! `ModelInfer` answer as their HTTP routes do; any other method of the service (Triton
//! has more) is UNIMPLEMENTED. `ModelInfer` takes its one FP32 input as
//! `raw_input_contents` (little-endian bytes, tritonclient's way) or as typed
//! `contents.fp32_contents` (grpcurl's), and answers in kind: `raw_output_contents` for
//! a raw request, typed `contents` for a typed one. Its rows go to the same engine
//! thread, batched with the HTTP requests. The connections, the token (`authorization:
//! Bearer …` metadata) and the bounds in flight are [`net`](super::net)'s.

use super::{check_name, run, Answer, Output, ServedModel, Server};
use crate::ApiError;
use axum::http::StatusCode;
use tonic::{Request, Response, Status};

/// The messages and the server that `build.rs` generates from the `.proto`.
#[allow(missing_docs, clippy::all, clippy::pedantic)]
pub mod proto {
    tonic::include_proto!("inference");
}

use proto::grpc_inference_service_server::{GrpcInferenceService, GrpcInferenceServiceServer};
use proto::model_infer_response::InferOutputTensor;
use proto::model_metadata_response::TensorMetadata;
use proto::*;

/// The full names of the methods this server implements, as the metrics label them.
pub const METHODS: [&str; 6] = [
    "ServerLive",
    "ServerReady",
    "ModelReady",
    "ServerMetadata",
    "ModelMetadata",
    "ModelInfer",
];

/// The service's path prefix: `/inference.GRPCInferenceService/`.
pub const SERVICE_PATH: &str = "/inference.GRPCInferenceService/";

/// The tower service that answers the gRPC requests, its message sizes bounded by the
/// HTTP body limit.
pub type GrpcServer = GrpcInferenceServiceServer<Handler>;

/// The gRPC service for `server` (the same engine thread as its HTTP routes).
pub fn service(server: Server) -> GrpcServer {
    GrpcInferenceServiceServer::new(Handler { server })
        .max_decoding_message_size(super::MAX_BODY_BYTES)
        .max_encoding_message_size(usize::MAX)
}

/// Answers the RPCs.
pub struct Handler {
    server: Server,
}

/// The gRPC status for an HTTP error: 400 → INVALID_ARGUMENT, 404 → NOT_FOUND, 503 →
/// UNAVAILABLE, others INTERNAL.
pub fn status_of(error: ApiError) -> Status {
    match error.status {
        StatusCode::BAD_REQUEST => Status::invalid_argument(error.message),
        StatusCode::NOT_FOUND => Status::not_found(error.message),
        StatusCode::SERVICE_UNAVAILABLE => Status::unavailable(error.message),
        _ => Status::internal(error.message),
    }
}

/// Checks a model name and version ("" or "1").
fn check_model(server: &Server, name: &str, version: &str) -> Result<(), Status> {
    check_name(server, name).map_err(status_of)?;
    if version.is_empty() || version == "1" {
        Ok(())
    } else {
        Err(Status::not_found(format!(
            "model {name:?} has version \"1\" only, not {version:?}"
        )))
    }
}

/// A tensor's metadata.
fn tensor(name: &str, datatype: &str, shape: Vec<i64>) -> TensorMetadata {
    TensorMetadata {
        name: name.into(),
        datatype: datatype.into(),
        shape,
    }
}

/// The rows of a `ModelInfer` request for a model of `width` inputs, and whether they
/// came as raw bytes.
///
/// # Errors
/// INVALID_ARGUMENT saying what is wrong: not one FP32 input, a shape the model does not
/// take, raw and typed contents both or neither, a count of values or bytes that
/// disagrees with the shape, a value that is not finite.
pub fn request_rows(
    request: &ModelInferRequest,
    width: usize,
) -> Result<(usize, Vec<f32>, bool), Status> {
    let [input] = &request.inputs[..] else {
        return Err(Status::invalid_argument(format!(
            "expected one input tensor, found {}",
            request.inputs.len()
        )));
    };
    if input.datatype != "FP32" {
        return Err(Status::invalid_argument(format!(
            "input {:?} has datatype {:?}; this model takes FP32",
            input.name, input.datatype
        )));
    }
    let (rows, needed) = super::shape_rows(&input.name, &input.shape, width).map_err(status_of)?;
    let typed = input.contents.as_ref();
    match (&request.raw_input_contents[..], typed) {
        ([], None) => Err(Status::invalid_argument(format!(
            "input {:?} has no contents and there are no raw_input_contents",
            input.name
        ))),
        ([_, ..], Some(_)) => Err(Status::invalid_argument(
            "raw_input_contents and typed contents are both set: send one",
        )),
        ([raw], None) => {
            // A shape of 2⁶⁰ rows overflows the byte count: no length can match it.
            let expected = (needed as u64).checked_mul(4);
            if Some(raw.len() as u64) != expected {
                let expected = expected.map_or("more than 2⁶⁴".into(), |n| n.to_string());
                return Err(Status::invalid_argument(format!(
                    "raw_input_contents[0] has {} bytes; input {:?} of shape {:?} and FP32 needs {expected}",
                    raw.len(),
                    input.name,
                    input.shape
                )));
            }
            let values =
                super::fp32_from_le(raw, &format!("input {:?}", input.name)).map_err(status_of)?;
            Ok((rows, values, true))
        }
        (raw @ [_, _, ..], None) => Err(Status::invalid_argument(format!(
            "{} raw_input_contents for 1 input",
            raw.len()
        ))),
        ([], Some(contents)) => {
            let values = &contents.fp32_contents;
            if values.len() != needed {
                return Err(Status::invalid_argument(format!(
                    "input {:?} has {} fp32_contents; shape {:?} needs {needed}",
                    input.name,
                    values.len(),
                    input.shape
                )));
            }
            if let Some(k) = values.iter().position(|x| !x.is_finite()) {
                return Err(Status::invalid_argument(format!(
                    "input {:?}: value {} at index {k} is not a finite number",
                    input.name, values[k]
                )));
            }
            Ok((rows, values.clone(), false))
        }
    }
}

/// One output of an answer, its values typed.
fn contents(answer: &Answer, output: Output) -> InferTensorContents {
    let mut contents = InferTensorContents::default();
    match output {
        Output::Probabilities => contents.fp32_contents = answer.probabilities.clone(),
        Output::Class => {
            contents.bytes_contents = answer.classes.iter().map(|c| c.clone().into()).collect()
        }
        Output::ClassIndex => {
            contents.int64_contents = answer.best.iter().map(|&k| k as i64).collect()
        }
    }
    contents
}

fn metadata(model: &ServedModel) -> ModelMetadataResponse {
    let (inputs, outputs) = (model.engine.inputs(), model.engine.outputs());
    ModelMetadataResponse {
        name: model.name.clone(),
        versions: vec!["1".into()],
        platform: "glassbox".into(),
        inputs: vec![tensor("input", "FP32", vec![-1, inputs as i64])],
        outputs: Output::ALL
            .iter()
            .map(|&o| {
                let shape = match o {
                    Output::Probabilities => vec![-1, outputs as i64],
                    _ => vec![-1],
                };
                tensor(o.name(), o.datatype(), shape)
            })
            .collect(),
    }
}

#[tonic::async_trait]
impl GrpcInferenceService for Handler {
    async fn server_live(
        &self,
        _: Request<ServerLiveRequest>,
    ) -> Result<Response<ServerLiveResponse>, Status> {
        Ok(Response::new(ServerLiveResponse { live: true }))
    }

    async fn server_ready(
        &self,
        _: Request<ServerReadyRequest>,
    ) -> Result<Response<ServerReadyResponse>, Status> {
        Ok(Response::new(ServerReadyResponse { ready: true }))
    }

    async fn model_ready(
        &self,
        request: Request<ModelReadyRequest>,
    ) -> Result<Response<ModelReadyResponse>, Status> {
        let request = request.into_inner();
        check_model(&self.server, &request.name, &request.version)?;
        Ok(Response::new(ModelReadyResponse { ready: true }))
    }

    async fn server_metadata(
        &self,
        _: Request<ServerMetadataRequest>,
    ) -> Result<Response<ServerMetadataResponse>, Status> {
        Ok(Response::new(ServerMetadataResponse {
            name: "glassbox".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            extensions: super::EXTENSIONS.iter().map(|&e| e.into()).collect(),
        }))
    }

    async fn model_metadata(
        &self,
        request: Request<ModelMetadataRequest>,
    ) -> Result<Response<ModelMetadataResponse>, Status> {
        let request = request.into_inner();
        check_model(&self.server, &request.name, &request.version)?;
        Ok(Response::new(metadata(&self.server.model)))
    }

    async fn model_infer(
        &self,
        request: Request<ModelInferRequest>,
    ) -> Result<Response<ModelInferResponse>, Status> {
        let request = request.into_inner();
        check_model(&self.server, &request.model_name, &request.model_version)?;
        let (rows, values, raw) = request_rows(&request, self.server.model.engine.inputs())?;
        let outputs: Vec<Output> = if request.outputs.is_empty() {
            Output::ALL.to_vec()
        } else {
            request
                .outputs
                .iter()
                .map(|o| Output::named(&o.name))
                .collect::<Result<_, ApiError>>()
                .map_err(status_of)?
        };
        let probabilities = run(&self.server, values).await.map_err(status_of)?;
        let answer = Answer::new(&self.server.model, rows, probabilities);
        let mut response = ModelInferResponse {
            model_name: self.server.model.name.clone(),
            model_version: "1".into(),
            id: request.id,
            ..Default::default()
        };
        for output in outputs {
            response.outputs.push(InferOutputTensor {
                name: output.name().into(),
                datatype: output.datatype().into(),
                shape: answer.shape(output),
                parameters: Default::default(),
                contents: (!raw).then(|| contents(&answer, output)),
            });
            if raw {
                response.raw_output_contents.push(answer.raw(output));
            }
        }
        Ok(Response::new(response))
    }
}

/// The method a request path names, as the metrics label it ("other" for a method
/// this server does not implement).
pub fn method_of(path: &str) -> &'static str {
    path.strip_prefix(SERVICE_PATH)
        .and_then(|m| METHODS.iter().find(|&&k| k == m))
        .copied()
        .unwrap_or("other")
}
