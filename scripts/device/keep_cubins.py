"""Zero the cubin payloads of every GPU architecture but the ones kept, in a shared library's .nv_fatbin.

Usage: keep_cubins.py IN.so OUT.so SM[,SM...]
Only to make ONNX Runtime's CUDA provider small enough to carry to a device machine of one known
architecture (scripts/device/pack.sh): the fat-binary headers stay intact, so the driver still picks
the kept architecture's cubins; the zeroed ones compress to nothing. Never ship the result.
"""
import struct
import subprocess
import sys

MAGIC = 0xBA55ED50
ELF_KIND = 2


def fatbin_section(path: str) -> tuple[int, int]:
    listing = subprocess.check_output(["readelf", "-S", "-W", path], text=True)
    for line in listing.splitlines():
        if ".nv_fatbin" in line:
            fields = line.split("]", 1)[1].split()
            return int(fields[3], 16), int(fields[4], 16)
    raise SystemExit(f"{path}: no .nv_fatbin section")


def main() -> None:
    source, target, keep = sys.argv[1], sys.argv[2], {int(x) for x in sys.argv[3].split(",")}
    data = bytearray(open(source, "rb").read())
    start, size = fatbin_section(source)
    position, end, kept, zeroed = start, start + size, 0, 0
    while position < end:
        magic, _, header, body = struct.unpack_from("<IHHQ", data, position)
        if magic != MAGIC:  # containers are 8-byte aligned with padding between them
            position += 8
            continue
        entry, stop = position + header, position + header + body
        while entry < stop:
            kind, _, entry_header, payload = struct.unpack_from("<HHIQ", data, entry)
            arch = struct.unpack_from("<I", data, entry + 28)[0]
            begin = entry + entry_header
            if kind == ELF_KIND and arch not in keep:
                data[begin:begin + payload] = bytes(payload)
                zeroed += payload
            else:
                kept += payload
            entry = begin + payload
        position = stop
    open(target, "wb").write(data)
    print(f"kept {kept >> 20} MiB, zeroed {zeroed >> 20} MiB of cubins")


if __name__ == "__main__":
    main()
