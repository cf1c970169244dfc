//! Compiles `proto/grpc_predict_v2.proto` (the Open Inference Protocol's gRPC service)
//! into Rust with protox, a protobuf compiler in Rust, so no system `protoc` is needed;
//! tonic-prost-build writes the messages and the server.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto = "proto/grpc_predict_v2.proto";
    println!("cargo:rerun-if-changed={proto}");
    let files = protox::compile([proto], ["proto"])?;
    tonic_prost_build::configure()
        .build_client(false)
        .build_transport(false)
        .compile_fds(files)?;
    Ok(())
}
