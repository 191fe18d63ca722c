# bench — build, test and demo targets. `make` builds ./bench (CUDA parts too when nvcc is found).
#   make setup   install missing Debian packages bench needs (setup-tests: also what tests need)
#   make demo    setup + build + run suites/quickstart.yaml on the CPU
#   make test    setup + build + unit, end-to-end, reference and sanitizer tests
#   make fuzz    run each libFuzzer harness for a bounded time (FUZZ_SECONDS, default 60)
#   make sim     the CUDA engine and its GPU tests built for the CUDA simulator (build/sim)
#   make bench-tokenizer   tokenizer MB/s against HF tokenizers (scripts/bench_tokenizer.sh)
#   make bench-train-gpu   CUDA trainer tokens/s and MFU on the 50.9M recipe (needs a GPU)

CC       ?= cc
NVCC     ?= $(shell command -v nvcc 2>/dev/null)
GIT_COMMIT := $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
PYTHON   := build/venv/bin/python

WARN     := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wno-unused-parameter
CPPFLAGS := -Icli -Iengine -Ikernels -D_GNU_SOURCE -DBENCH_GIT_COMMIT='"$(GIT_COMMIT)"'
CFLAGS   ?= -O2 -g
CFLAGS   += -std=c11 $(WARN) -fopenmp -pthread
LDLIBS   := -lyaml -ljansson -lpcre2-8 -lopenblas -lm -lpthread

BENCH_SRC  := $(wildcard cli/*.c)
ENGINE_SRC := $(wildcard engine/*.c)
LIB_SRC    := $(filter-out cli/main.c,$(BENCH_SRC)) $(ENGINE_SRC)
CU_SRC     := $(wildcard kernels/*.cu)
UNIT_SRC   := $(wildcard tests/unit/test_*.c)

# ---- release build (build/release) ----
REL := build/release
REL_OBJ := $(patsubst %.c,$(REL)/%.o,$(LIB_SRC))

ifneq ($(NVCC),)
CUDA_HOME ?= $(patsubst %/bin/nvcc,%,$(NVCC))
NVCCFLAGS ?= -O2 -std=c++17 -gencode=arch=compute_90a,code=sm_90a -gencode=arch=compute_80,code=sm_80 \
             -Xcompiler -fPIC,-Wall,-Wextra,-Wno-unused-parameter $(CPPFLAGS)
CU_OBJ := $(patsubst %.cu,$(REL)/%.o,$(CU_SRC))
REL_CPPFLAGS := -DBENCH_CUDA
REL_LDLIBS := -L$(CUDA_HOME)/lib64 -Wl,-rpath,$(CUDA_HOME)/lib64 -lcublasLt -lcudart -lstdc++
BUILT_WITH := cpu+cuda
else
CU_OBJ :=
BUILT_WITH := cpu
endif

.PHONY: sim all setup setup-tests demo test unit-test fuzz clean bench-cpu bench-tokenizer bench-decode bench-train bench-train-gpu bench-gpu gpu-test gpu-bundle
all: bench
	@echo "bench: built ./bench with backends: $(BUILT_WITH)"

bench: $(REL)/cli/main.o $(REL_OBJ) $(CU_OBJ)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS) $(REL_LDLIBS)

$(REL)/%.o: %.c $(wildcard cli/*.h engine/*.h kernels/*.h kernels/*.cuh)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(REL_CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(REL)/%.o: %.cu $(wildcard engine/*.h kernels/*.h kernels/*.cuh)
	@mkdir -p $(dir $@)
	$(NVCC) $(NVCCFLAGS) -c -o $@ $<

$(REL)/tests/%: tests/unit/%.c tests/unit/test.h tests/unit/fp_bounds.h $(REL_OBJ) $(CU_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(REL_CPPFLAGS) -Itests/unit $(CFLAGS) -o $@ $< $(REL_OBJ) $(CU_OBJ) $(LDLIBS) $(REL_LDLIBS)

# ---- sanitizer build (build/asan): ASan + UBSan, CPU backend only ----
ASAN := build/asan
ASAN_FLAGS := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
ASAN_OBJ := $(patsubst %.c,$(ASAN)/%.o,$(LIB_SRC))

$(ASAN)/bench: $(ASAN)/cli/main.o $(ASAN_OBJ)
	$(CC) $(CFLAGS) $(ASAN_FLAGS) -o $@ $^ $(LDLIBS)

$(ASAN)/%.o: %.c $(wildcard cli/*.h engine/*.h kernels/*.h kernels/*.cuh)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(ASAN_FLAGS) -c -o $@ $<

$(ASAN)/tests/%: tests/unit/%.c tests/unit/test.h tests/unit/fp_bounds.h $(ASAN_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -Itests/unit $(CFLAGS) $(ASAN_FLAGS) -o $@ $< $(ASAN_OBJ) $(LDLIBS)

UNIT_REL  := $(patsubst tests/unit/%.c,$(REL)/tests/%,$(UNIT_SRC))
UNIT_ASAN := $(patsubst tests/unit/%.c,$(ASAN)/tests/%,$(UNIT_SRC))

# ---- targets ----
setup:
	@scripts/setup.sh

setup-tests:
	@scripts/setup.sh --for-tests

demo: setup
	@$(MAKE) --no-print-directory all
	./bench run suites/quickstart.yaml --device cpu

test: setup-tests
	@$(MAKE) --no-print-directory all $(UNIT_REL) $(ASAN)/bench $(UNIT_ASAN) $(GPU_BIN)/test_parity_gpu \
	  $(GPU_BIN)/test_train_kernels $(GPU_BIN)/test_train_gpu $(REL)/bench_train_gpu \
	    $(REL)/bench_gpu $(SIM_PROGS)
	@PYTHON=$(PYTHON) tests/run_all.sh

unit-test: all $(UNIT_REL)
	@for t in $(UNIT_REL); do echo "== $$t"; $$t || exit 1; done

# ---- fuzzing (clang libFuzzer) ----
FUZZ := build/fuzz
FUZZ_SECONDS ?= 60
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN := $(patsubst tests/fuzz/%.c,$(FUZZ)/%,$(FUZZ_SRC))
FUZZ_FLAGS := -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -fopenmp -pthread

$(FUZZ)/%: tests/fuzz/%.c $(LIB_SRC) $(wildcard cli/*.h engine/*.h)
	@mkdir -p $(dir $@)
	clang $(CPPFLAGS) -std=c11 $(FUZZ_FLAGS) -o $@ $< $(LIB_SRC) $(LDLIBS)

fuzz: setup-tests $(FUZZ_BIN)
	@scripts/fuzz.sh $(FUZZ_SECONDS) $(FUZZ_BIN)

# ---- GPU tests: built here, run on a GPU machine by tests/gpu/run_gpu_tests.sh ----
# test_parity_gpu, test_train_kernels and test_train_gpu also run with --device cpu (a check of
# the programs themselves, in `make test`);
# test_kernels needs CUDA. `make gpu-bundle` adds the shared libraries a machine without this
# one's packages needs (build/gpu-bundle).
GPU_BIN := $(REL)/gpu
GPU_HDR := $(wildcard tests/gpu/*.h) tests/unit/emu_backend.h tests/unit/random_model.h tests/unit/fp_bounds.h \
           tests/unit/train_emu_ops.h
GPU_PROGS := test_kernels test_parity_gpu test_train_kernels test_train_gpu

$(GPU_BIN)/%: tests/gpu/%.c $(GPU_HDR) $(REL_OBJ) $(CU_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(REL_CPPFLAGS) -Itests/unit -Itests/gpu $(CFLAGS) -o $@ $< $(REL_OBJ) $(CU_OBJ) $(LDLIBS) $(REL_LDLIBS)

ifneq ($(NVCC),)
gpu-test: all $(addprefix $(GPU_BIN)/,$(GPU_PROGS)) $(REL)/bench_train_gpu $(REL)/bench_gpu
gpu-bundle: gpu-test
	@scripts/gpu_bundle.sh build/gpu-bundle ./bench $(addprefix $(GPU_BIN)/,$(GPU_PROGS)) $(REL)/bench_train_gpu \
	    $(REL)/bench_gpu
else
gpu-test gpu-bundle:
	@echo "bench: $@ needs nvcc (CUDA toolkit); none was found" >&2; exit 2
endif

# ---- CUDA simulator (build/sim): runs the CUDA engine on a machine without a GPU ----
# kernels/*.cu compiled by g++ for tests/cuda_sim (launches rewritten by rewrite.pl, the runtime
# and cuBLASLt simulated), everything with ASan + UBSan; the GPU test programs and bench linked
# against it. `make test` runs them (tests/run_all.sh, group sim/). Needs the CUDA headers only.
SIM := build/sim
ifneq ($(NVCC),)
SIM_CPPFLAGS := $(CPPFLAGS) -DBENCH_CUDA -I$(CUDA_HOME)/include -Itests/cuda_sim
SIM_CXXFLAGS := -std=c++17 $(ASAN_FLAGS) -ffp-contract=off -Wall -Wextra -Wno-unused-parameter -Wno-sign-compare \
                -Wno-unknown-pragmas
SIM_OBJ := $(patsubst %.c,$(SIM)/%.o,$(LIB_SRC))
SIM_CU_OBJ := $(patsubst kernels/%.cu,$(SIM)/kernels/%.o,$(CU_SRC))
SIM_RT_OBJ := $(patsubst tests/cuda_sim/%.cpp,$(SIM)/rt/%.o,$(wildcard tests/cuda_sim/*.cpp))
SIM_LINK := $(SIM_OBJ) $(SIM_CU_OBJ) $(SIM_RT_OBJ)
SIM_PROGS := $(SIM)/test_sim $(SIM)/bench $(addprefix $(SIM)/gpu/,$(GPU_PROGS))

$(SIM)/%.o: %.c $(wildcard cli/*.h engine/*.h kernels/*.h kernels/*.cuh)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -DBENCH_CUDA $(CFLAGS) $(ASAN_FLAGS) -c -o $@ $<

$(SIM)/kernels/%.cpp: kernels/%.cu tests/cuda_sim/rewrite.pl
	@mkdir -p $(dir $@)
	perl tests/cuda_sim/rewrite.pl $< >$@

# the kernels' headers rewritten too (static __shared__ variables), found first beside the .cpp
$(SIM)/kernels/headers.stamp: $(wildcard kernels/*.cuh) tests/cuda_sim/rewrite.pl
	@mkdir -p $(dir $@)
	for h in $(wildcard kernels/*.cuh); do perl tests/cuda_sim/rewrite.pl $$h >$(SIM)/$$h || exit 1; done
	@touch $@

$(SIM)/kernels/%.o: $(SIM)/kernels/%.cpp $(SIM)/kernels/headers.stamp $(wildcard engine/*.h kernels/*.h tests/cuda_sim/*.h)
	g++ $(SIM_CPPFLAGS) $(SIM_CXXFLAGS) -include tests/cuda_sim/cuda_sim.h -c -o $@ $<

$(SIM)/rt/%.o: tests/cuda_sim/%.cpp $(wildcard tests/cuda_sim/*.h)
	@mkdir -p $(dir $@)
	g++ $(SIM_CPPFLAGS) $(SIM_CXXFLAGS) -c -o $@ $<

$(SIM)/test_sim.cpp: tests/cuda_sim/test_sim.cu tests/cuda_sim/rewrite.pl
	@mkdir -p $(dir $@)
	perl tests/cuda_sim/rewrite.pl $< >$@

$(SIM)/test_sim: $(SIM)/test_sim.cpp $(SIM_RT_OBJ) kernels/ptx.cuh
	g++ $(SIM_CPPFLAGS) $(SIM_CXXFLAGS) -include tests/cuda_sim/cuda_sim.h -o $@ $< $(SIM_RT_OBJ) \
	  -lopenblas -lm

$(SIM)/bench: $(SIM)/cli/main.o $(SIM_LINK)
	$(CC) $(CFLAGS) $(ASAN_FLAGS) -o $@ $^ $(LDLIBS) -lstdc++

$(SIM)/gpu/%: tests/gpu/%.c $(GPU_HDR) $(SIM_LINK)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -DBENCH_CUDA -Itests/unit -Itests/gpu $(CFLAGS) $(ASAN_FLAGS) -o $@ $< \
	  $(SIM_LINK) $(LDLIBS) -lstdc++
else
SIM_PROGS :=
endif
sim: $(SIM_PROGS)

# CPU forward benchmark (a table; not a test): scripts/bench_cpu.sh [--threads N] [--quick]
$(REL)/bench_cpu: tests/bench/bench_cpu.c tests/unit/random_model.h $(REL_OBJ) $(CU_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(REL_CPPFLAGS) -Itests/unit $(CFLAGS) -o $@ $< $(REL_OBJ) $(CU_OBJ) $(LDLIBS) $(REL_LDLIBS)

bench-cpu: all $(REL)/bench_cpu
	@scripts/bench_cpu.sh $(BENCH_ARGS)

# Decode-protocol benchmark (a table; not a test): build/release/bench_decode [--threads N] [--quick]
$(REL)/bench_decode: tests/bench/bench_decode.c tests/unit/random_model.h $(REL_OBJ) $(CU_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(REL_CPPFLAGS) -Itests/unit $(CFLAGS) -o $@ $< $(REL_OBJ) $(CU_OBJ) $(LDLIBS) $(REL_LDLIBS)

bench-decode: all $(REL)/bench_decode
	@$(REL)/bench_decode $(BENCH_ARGS)

# Engine speed on a device against transformers (issue: CUDA engine speed; a table and
# reports/perf/REPORT.md's content): scripts/bench_gpu.sh [--quick] [--out DIR] (on a GPU machine)
$(REL)/bench_gpu: tests/bench/bench_gpu.c tests/unit/random_model.h $(REL_OBJ) $(CU_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(REL_CPPFLAGS) -Itests/unit $(CFLAGS) -o $@ $< $(REL_OBJ) $(CU_OBJ) $(LDLIBS) $(REL_LDLIBS)

bench-gpu: all $(REL)/bench_gpu
	@PYTHON=$(PYTHON) scripts/bench_gpu.sh $(BENCH_ARGS)

# CPU trainer benchmark (a table; not a test): scripts/bench_train.sh [--threads N] [--only TEXT]
$(REL)/bench_train: tests/bench/bench_train.c $(REL_OBJ) $(CU_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(REL_CPPFLAGS) $(CFLAGS) -o $@ $< $(REL_OBJ) $(CU_OBJ) $(LDLIBS) $(REL_LDLIBS)

bench-train: all $(REL)/bench_train
	@scripts/bench_train.sh $(BENCH_ARGS)

# CUDA trainer benchmark on the 50.9M recipe (tokens/s, model FLOP/s, MFU; needs a GPU):
# scripts/bench_train_gpu.sh [--steps N] [--attention auto|simple|flash] [--fp32]
$(REL)/bench_train_gpu: tests/bench/bench_train_gpu.c $(REL_OBJ) $(CU_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(REL_CPPFLAGS) $(CFLAGS) -o $@ $< $(REL_OBJ) $(CU_OBJ) $(LDLIBS) $(REL_LDLIBS)

bench-train-gpu: all $(REL)/bench_train_gpu
	@scripts/bench_train_gpu.sh $(BENCH_ARGS)

bench-tokenizer: setup-tests
	@$(MAKE) --no-print-directory all
	@PYTHON=$(PYTHON) scripts/bench_tokenizer.sh

clean:
	rm -rf build bench
