"""Continue training a glassbox model on several processes, GPUs or machines with PyTorch
DistributedDataParallel, then bring it back (README, "Beyond one machine").

    glassbox export --model model.safetensors --format torch --out torch.safetensors
    torchrun --nproc_per_node 2 bench/ddp_continue.py torch.safetensors relu,relu,softmax \
        trained.safetensors [EPOCHS]
    glassbox import --torch trained.safetensors --activations relu,relu,softmax \
        --inputs-shape 28x28 --out continued.safetensors

Each process takes its share of Fashion-MNIST's 60 000 training images (a
DistributedSampler), DDP averages the gradients, Adam (lr 1e-3, batch 128 per process)
steps, and the first process saves the weights under the names the export used
(`0.weight`, `0.bias`, `2.weight`, …), which `glassbox import` reads. The output layer's
softmax is left to the loss (cross-entropy on the weighted sums), as glassbox's own
softmax + cross-entropy. Models with input scaling (`input.offset` / `input.scale`) are
not handled here. On several machines: `torchrun --nnodes N --node_rank R
--master_addr HOST --nproc_per_node G …` (NCCL is used when CUDA is there, else gloo).
"""

import gzip
import os
import sys

import numpy as np
import torch
import torch.distributed as dist
from safetensors.torch import load_file, save_file
from torch import nn

FASHION = "/usr/share/datasets/fashion-mnist"
HIDDEN = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "identity": nn.Identity}


def read_idx(name, offset):
    with gzip.open(os.path.join(FASHION, name)) as f:
        return np.frombuffer(f.read(), dtype=np.uint8, offset=offset)


def main():
    source, activations, out = sys.argv[1], sys.argv[2].split(","), sys.argv[3]
    epochs = int(sys.argv[4]) if len(sys.argv) > 4 else 1
    if activations[-1] != "softmax":
        sys.exit("this script continues classifiers: the last activation must be softmax")
    dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    device = torch.device(f"cuda:{os.environ.get('LOCAL_RANK', 0)}" if torch.cuda.is_available() else "cpu")
    torch.manual_seed(rank)

    state = load_file(source)
    if any(k.startswith("input.") for k in state):
        sys.exit(f"{source} has input scaling (input.offset / input.scale); not handled here")
    layers = []
    for i, act in enumerate(activations):
        weight = state[f"{2 * i}.weight"]
        layers.append(nn.Linear(weight.shape[1], weight.shape[0]))
        if i + 1 < len(activations):
            layers.append(HIDDEN[act]())
    body = nn.Sequential(*layers)  # the weighted sums of the output layer: logits
    body.load_state_dict(state)
    model = nn.parallel.DistributedDataParallel(body.to(device))

    x = torch.from_numpy(read_idx("train-images-idx3-ubyte.gz", 16).reshape(-1, 784).astype(np.float32) / 255)
    y = torch.from_numpy(read_idx("train-labels-idx1-ubyte.gz", 8).astype(np.int64))
    data = torch.utils.data.TensorDataset(x, y)
    sampler = torch.utils.data.distributed.DistributedSampler(data, num_replicas=world, rank=rank, seed=1)
    loader = torch.utils.data.DataLoader(data, batch_size=128, sampler=sampler)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    for epoch in range(epochs):
        sampler.set_epoch(epoch)
        total, count = 0.0, 0
        for xb, yb in loader:
            optimizer.zero_grad()
            loss = loss_fn(model(xb.to(device)), yb.to(device))
            loss.backward()
            optimizer.step()
            total, count = total + loss.item() * len(yb), count + len(yb)
        print(f"rank {rank}/{world} epoch {epoch + 1}: training loss {total / count:.4f} on {count} images")
    if rank == 0:
        save_file({k: v.detach().cpu().contiguous() for k, v in body.state_dict().items()}, out)
        print(f"saved {out}")
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
