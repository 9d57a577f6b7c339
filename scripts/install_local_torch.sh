#!/bin/sh
# Install PyTorch into the test environment only when a CPU wheel already lies on this machine
# (in a pip find-links folder), so the PyTorch-parity tests run; never download it (it is not a
# dependency, and the registry's default build is several GB). Without one, those tests skip.
python=$1
if "$python" -c "import torch" >/dev/null 2>&1; then
    exit 0
fi
tag=$("$python" -c 'import sys; print(f"cp{sys.version_info[0]}{sys.version_info[1]}")')
for folder in $(echo "${PIP_FIND_LINKS:-} /opt/wheels" | tr ' ' '\n' | sort -u); do
    for wheel in "$folder"/torch-*+cpu-"$tag"-*.whl; do
        if [ -f "$wheel" ]; then
            echo "Installing PyTorch from $wheel for the parity tests..."
            "$python" -m pip install --quiet "$wheel" && exit 0
        fi
    done
done
echo "No local PyTorch CPU wheel found: the PyTorch-parity tests will be skipped."
exit 0
