"""Sum the squares of 1..N across WORLD_SIZE processes: rank 0 listens on MASTER_ADDR:MASTER_PORT, the others
send it their shard's sum, as a torch.distributed all-reduce would gather them."""

import argparse
import json
import os
import socket
import time
from pathlib import Path

parser = argparse.ArgumentParser()
parser.add_argument("--upto", type=int, required=True)
parser.add_argument("--result", required=True)
args = parser.parse_args()

rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
local_rank, node_rank = int(os.environ["LOCAL_RANK"]), int(os.environ["NODE_RANK"])
address = (os.environ["MASTER_ADDR"], int(os.environ["MASTER_PORT"]))
part = sum(i * i for i in range(rank + 1, args.upto + 1, world))
print(f"rank {rank}/{world} (node {node_rank}, local rank {local_rank}): my shard sums to {part}")

if rank == 0:
    with socket.create_server(address) as server:
        server.settimeout(60)
        parts = {0: part}
        while len(parts) < world:
            conn, _ = server.accept()
            with conn:
                other, value = json.loads(conn.makefile().readline())
                parts[other] = value
    total = sum(parts.values())
    expected = args.upto * (args.upto + 1) * (2 * args.upto + 1) // 6
    print(f"total {total} from {world} ranks; the formula says {expected}")
    Path(args.result, "sum.json").write_text(json.dumps({"total": total, "parts": parts}, indent=2))
    Path("outputs", "ranks.txt").write_text("\n".join(f"{r} {v}" for r, v in sorted(parts.items())) + "\n")
    if total != expected:
        raise SystemExit("the parts do not add up")
else:
    deadline = time.monotonic() + 60
    while True:  # rank 0 may not be listening yet
        try:
            with socket.create_connection(address, timeout=5) as conn:
                conn.sendall((json.dumps([rank, part]) + "\n").encode())
            break
        except ConnectionRefusedError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
