"""Triton's own Python client (`tritonclient[http,grpc]` from PyPI) against `glassbox
serve` on 127.0.0.1: the probes, the metadata, inference with JSON and binary tensors
over HTTP and over gRPC, each equal to `glassbox predict` on the same rows; malformed
binary requests get a 4xx and the server goes on serving; the token over gRPC.
"""

import http.client
import json
import struct

import grpc
import numpy as np
import pytest
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from tritonclient.grpc import service_pb2
from tritonclient.utils import InferenceServerException

from conftest import ROWS, TOKEN

MODEL = "digits"
# The server runs the same float32 network on the same rows, but a batch of another size
# (5 rows here, 256 in `glassbox predict`, or rows batched with other requests) can sum
# the products in another order: float32 rounding, as the interop checks allow.
TOLERANCE = 1e-5


def http_client(server):
    return httpclient.InferenceServerClient(url=server.http, network_timeout=30.0)


def grpc_client(server):
    return grpcclient.InferenceServerClient(url=server.grpc)


def check(result, x_rows, expected, rows=None):
    probabilities, classes = expected
    want = probabilities if rows is None else probabilities[rows]
    got = result.as_numpy("probabilities")
    assert got.dtype == np.float32 and got.shape == want.shape, (got.dtype, got.shape)
    assert np.abs(got - want).max() <= TOLERANCE
    index = result.as_numpy("class_index")
    assert index.dtype == np.int64 and (index == want.argmax(axis=1)).all()
    names = [c.decode() if isinstance(c, bytes) else c for c in result.as_numpy("class")]
    assert names == [classes[k] for k in index]


# --- HTTP -------------------------------------------------------------------------


def test_http_probes_and_metadata(server):
    client = http_client(server)
    assert client.is_server_live() and client.is_server_ready()
    assert client.is_model_ready(MODEL)
    meta = client.get_server_metadata()
    assert meta["name"] == "glassbox" and "binary_tensor_data" in meta["extensions"]
    model = client.get_model_metadata(MODEL)
    assert model["inputs"] == [{"name": "input", "datatype": "FP32", "shape": [-1, 64]}]
    assert [o["name"] for o in model["outputs"]] == ["probabilities", "class", "class_index"]
    # Issue 28: the metadata says what range image inputs take.
    assert model["parameters"]["input_range"] == [0.0, 1.0]
    assert "[0, 1]" in model["parameters"]["input_description"]
    assert not client.is_model_ready("no-such-model")


@pytest.mark.parametrize("binary_in,binary_out", [(False, False), (True, False), (False, True),
                                                  (True, True)])
def test_http_infer_equals_predict(server, rows, expected, binary_in, binary_out):
    x, _ = rows
    client = http_client(server)
    tensor = httpclient.InferInput("input", list(x.shape), "FP32")
    tensor.set_data_from_numpy(x, binary_data=binary_in)
    outputs = [httpclient.InferRequestedOutput(name, binary_data=binary_out)
               for name in ["probabilities", "class", "class_index"]]
    result = client.infer(MODEL, [tensor], outputs=outputs, request_id="r-30")
    check(result, x, expected)
    assert result.get_response()["id"] == "r-30"
    for output in result.get_response()["outputs"]:
        assert ("data" in output) != binary_out, output


def test_http_default_outputs_come_back_binary(server, rows, expected):
    # No outputs named: tritonclient asks for binary_data_output, every output binary.
    x, _ = rows
    tensor = httpclient.InferInput("input", [5, 64], "FP32")
    tensor.set_data_from_numpy(x[:5])
    result = http_client(server).infer(MODEL, [tensor])
    check(result, x, expected, rows=slice(0, 5))
    assert all("binary_data_size" in o["parameters"] for o in result.get_response()["outputs"])


def test_http_one_output_asked_for(server, rows, expected):
    x, _ = rows
    tensor = httpclient.InferInput("input", [1, 64], "FP32")
    tensor.set_data_from_numpy(x[7:8])
    result = http_client(server).infer(
        MODEL, [tensor], outputs=[httpclient.InferRequestedOutput("class_index")])
    assert [o["name"] for o in result.get_response()["outputs"]] == ["class_index"]
    assert result.as_numpy("class_index").tolist() == [int(expected[0][7].argmax())]


def raw_post(server, body, headers):
    connection = http.client.HTTPConnection(server.http, timeout=30)
    connection.request("POST", f"/v2/models/{MODEL}/infer", body=body, headers=headers)
    response = connection.getresponse()
    text = response.read()
    connection.close()
    return response.status, text


def binary_request(x, size=None, header=None, extra=b""):
    head = json.dumps({"inputs": [{
        "name": "input", "shape": list(x.shape), "datatype": "FP32",
        "parameters": {"binary_data_size": x.nbytes if size is None else size}}]}).encode()
    body = head + x.astype("<f4").tobytes() + extra
    return body, {"Inference-Header-Content-Length": str(len(head) if header is None else header)}


def test_malformed_binary_requests_get_4xx_and_the_server_keeps_serving(server, rows, expected):
    x, _ = rows
    one = x[:2]
    nan = one.copy()
    nan[1, 3] = np.nan
    cases = {
        "size disagrees with the shape": binary_request(one, size=one.nbytes - 4),
        "size beyond the bytes sent": binary_request(one, size=one.nbytes + 4),
        "bytes left after the tensor": binary_request(one, extra=b"\0\0\0\0"),
        "header length beyond the body": binary_request(one, header=10**6),
        "header length not a number": binary_request(one, header="twelve"),
        "header length cuts the JSON": binary_request(one, header=5),
        "binary without the header": (binary_request(one)[0], {}),
        "NaN in the bytes": binary_request(nan),
        "data and binary_data_size both": (json.dumps({"inputs": [{
            "name": "input", "shape": [1, 64], "datatype": "FP32", "data": [0] * 64,
            "parameters": {"binary_data_size": 256}}]}).encode(), {}),
        "neither data nor binary_data_size": (json.dumps({"inputs": [{
            "name": "input", "shape": [1, 64], "datatype": "FP32"}]}).encode(), {}),
        "an output it does not have": (json.dumps({"inputs": [{
            "name": "input", "shape": [1, 64], "datatype": "FP32", "data": [0] * 64}],
            "outputs": [{"name": "logits"}]}).encode(), {}),
    }
    for what, (body, headers) in cases.items():
        status, text = raw_post(server, body, headers)
        assert 400 <= status < 500, (what, status, text)
        assert "error" in json.loads(text), (what, text)
    # Still serving, and right.
    tensor = httpclient.InferInput("input", [2, 64], "FP32")
    tensor.set_data_from_numpy(one)
    check(http_client(server).infer(MODEL, [tensor]), x, expected, rows=slice(0, 2))


def test_a_json_body_without_a_content_type_is_read(server, rows, expected):
    x, _ = rows
    body = json.dumps({"inputs": [{"name": "input", "shape": [1, 64], "datatype": "FP32",
                                   "data": x[0].tolist()}]}).encode()
    status, text = raw_post(server, body, {})
    assert status == 200, text
    got = np.array(json.loads(text)["outputs"][0]["data"], dtype=np.float32)
    assert np.abs(got - expected[0][0]).max() <= TOLERANCE


# --- gRPC -------------------------------------------------------------------------


def test_grpc_probes_and_metadata(server):
    client = grpc_client(server)
    assert client.is_server_live() and client.is_server_ready()
    assert client.is_model_ready(MODEL)
    meta = client.get_server_metadata(as_json=True)
    assert meta["name"] == "glassbox" and "binary_tensor_data" in meta["extensions"]
    model = client.get_model_metadata(MODEL, as_json=True)
    assert model["inputs"] == [{"name": "input", "datatype": "FP32", "shape": ["-1", "64"]}]
    assert [o["name"] for o in model["outputs"]] == ["probabilities", "class", "class_index"]
    with pytest.raises(InferenceServerException, match="no model"):
        client.get_model_metadata("no-such-model")


@pytest.mark.parametrize("rows_sent", [1, ROWS])
def test_grpc_infer_equals_predict(server, rows, expected, rows_sent):
    x, _ = rows
    tensor = grpcclient.InferInput("input", [rows_sent, 64], "FP32")
    tensor.set_data_from_numpy(x[:rows_sent])
    outputs = [grpcclient.InferRequestedOutput(n) for n in ["probabilities", "class", "class_index"]]
    result = grpc_client(server).infer(MODEL, [tensor], outputs=outputs, request_id="g-30")
    check(result, x, expected, rows=slice(0, rows_sent))
    assert result.get_response().id == "g-30"
    assert len(result.get_response().raw_output_contents) == 3


def test_grpc_typed_contents_in_and_out(server, rows, expected):
    # grpcurl's way: fp32_contents in, typed contents back.
    x, _ = rows
    request = service_pb2.ModelInferRequest(model_name=MODEL)
    tensor = request.inputs.add(name="input", datatype="FP32", shape=[3, 64])
    tensor.contents.fp32_contents.extend(x[:3].ravel().tolist())
    client = grpc_client(server)  # kept: the stub's channel closes with it
    stub = client._client_stub
    response = stub.ModelInfer(request)
    assert not response.raw_output_contents
    got = np.array(response.outputs[0].contents.fp32_contents, dtype=np.float32).reshape(3, 10)
    assert np.abs(got - expected[0][:3]).max() <= TOLERANCE
    assert list(response.outputs[2].contents.int64_contents) == expected[0][:3].argmax(1).tolist()


def test_grpc_malformed_requests_are_invalid_argument(server, rows, expected):
    x, _ = rows
    client = grpc_client(server)  # kept: the stub's channel closes with it
    stub = client._client_stub
    bad = []
    short = service_pb2.ModelInferRequest(model_name=MODEL)
    short.inputs.add(name="input", datatype="FP32", shape=[2, 64])
    short.raw_input_contents.append(x[:2].tobytes()[:-4])
    bad.append(short)
    wrong_type = service_pb2.ModelInferRequest(model_name=MODEL)
    wrong_type.inputs.add(name="input", datatype="FP64", shape=[1, 64])
    wrong_type.raw_input_contents.append(x[:1].astype(np.float64).tobytes())
    bad.append(wrong_type)
    empty = service_pb2.ModelInferRequest(model_name=MODEL)
    empty.inputs.add(name="input", datatype="FP32", shape=[1, 64])
    bad.append(empty)
    for request in bad:
        with pytest.raises(grpc.RpcError) as error:
            stub.ModelInfer(request)
        assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT, error.value
    # A method of Triton's service that glassbox does not have.
    with pytest.raises(InferenceServerException, match="(?i)unimplemented"):
        client.get_model_repository_index()
    tensor = grpcclient.InferInput("input", [1, 64], "FP32")
    tensor.set_data_from_numpy(x[:1])
    check(grpc_client(server).infer(MODEL, [tensor]), x, expected, rows=slice(0, 1))


def test_grpc_and_http_need_the_token(secured, rows, expected):
    x, _ = rows
    tensor = grpcclient.InferInput("input", [1, 64], "FP32")
    tensor.set_data_from_numpy(x[:1])
    client = grpc_client(secured)
    assert client.is_server_live()  # the probes need no token, as over HTTP
    for headers in [None, {"authorization": "Bearer wrong-token"}]:
        with pytest.raises(InferenceServerException, match="(?i)unauthenticated|token"):
            client.infer(MODEL, [tensor], headers=headers)
    good = {"authorization": f"Bearer {TOKEN}"}
    check(client.infer(MODEL, [tensor], headers=good), x, expected, rows=slice(0, 1))
    assert client.get_model_metadata(MODEL, headers=good).name == MODEL
    http = http_client(secured)
    h = httpclient.InferInput("input", [1, 64], "FP32")
    h.set_data_from_numpy(x[:1])
    with pytest.raises(InferenceServerException):
        http.infer(MODEL, [h])
    check(http.infer(MODEL, [h], headers=good), x, expected, rows=slice(0, 1))


def test_metrics_count_grpc_calls_by_method_and_code(server, rows):
    x, _ = rows

    def scrape():
        connection = http.client.HTTPConnection(server.http, timeout=30)
        connection.request("GET", "/metrics")
        text = connection.getresponse().read().decode()
        connection.close()
        samples = {}
        for line in text.splitlines():
            if line.startswith("glassbox_grpc_requests_total{"):
                key, value = line.rsplit(" ", 1)
                samples[key] = float(value)
        return samples

    before = scrape()
    client = grpc_client(server)
    tensor = grpcclient.InferInput("input", [1, 64], "FP32")
    tensor.set_data_from_numpy(x[:1])
    client.infer(MODEL, [tensor])
    client.infer(MODEL, [tensor])
    with pytest.raises(InferenceServerException):
        client.infer("no-such-model", [tensor])
    after = scrape()

    def delta(labels):
        key = "glassbox_grpc_requests_total{" + labels + "}"
        return after.get(key, 0) - before.get(key, 0)

    assert delta('method="ModelInfer",code="OK"') == 2
    assert delta('method="ModelInfer",code="NOT_FOUND"') == 1
