#!/bin/sh
# The GPU check on a machine that has a GPU but no internet, and maybe no Node: unpacks what
# `npm run bench -- gpu --prepare` put in .gpu-kit/ (the Vulkan loader WebGPU needs; node,
# onnxruntime-node and the check bundled into one file) and runs the check from the repository
# root. Arguments go to the check (e.g. --json "$OUT/gpu.json"); its exit status is the script's.
set -eu
cd "$(dirname "$0")/../.."
kit=.gpu-kit

if ! ldconfig -p 2>/dev/null | grep -q 'libvulkan\.so\.1'; then
  # Debian's libvulkan1 unpacked over /, as the device README does for its loaders.
  for deb in "$kit"/libvulkan1_*.deb; do dpkg -x "$deb" /; done
  ldconfig
fi
# NVIDIA's driver folder is mounted where the loader does not look for its ICD file.
icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
if [ -z "${VK_DRIVER_FILES:-}" ] && [ -f "$icd" ]; then export VK_DRIVER_FILES="$icd"; fi

if command -v node >/dev/null 2>&1 && [ -x node_modules/.bin/tsx ]; then
  exec npm run bench -- gpu "$@"
fi
# Unpacked afresh each time (~10 s), so a kit prepared again is the one that runs.
dest=/tmp/hearth-gpu-kit
rm -rf "$dest"
mkdir -p "$dest"
tar -xJf "$kit/kit.tar.xz" -C "$dest" 2>/dev/null || python3 -m tarfile -e "$kit/kit.tar.xz" "$dest"
echo "node $("$dest/bin/node" --version) from .gpu-kit; Vulkan: $(ldconfig -p | grep -c 'libvulkan\.so\.1') loader(s); VK_DRIVER_FILES=${VK_DRIVER_FILES:-unset}"
exec "$dest/bin/node" "$dest/bench.mjs" "$@"
