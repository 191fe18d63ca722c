# bench — build, test and demo targets. `make` builds ./bench (CUDA parts too when nvcc is found).
#   make setup   install missing Debian packages bench needs (setup-tests: also what tests need)
#   make demo    setup + build + run suites/quickstart.yaml on the CPU
#   make test    setup + build + unit, end-to-end, reference and sanitizer tests
#   make fuzz    run each libFuzzer harness for a bounded time (FUZZ_SECONDS, default 60)
#   make sim     the CUDA engine and its GPU tests built for the CUDA simulator (build/sim)
#   make bench-plan        plan/validate/run --dry-run seconds and peak RSS by matrix size (benchmarks/bench_plan.sh)
#   make bench-tokenizer   tokenizer MB/s against HF tokenizers (benchmarks/bench_tokenizer.sh)
#   make bench-train-gpu   CUDA trainer tokens/s and MFU on the 50.9M recipe (needs a GPU)
# Sources live in one folder per capability (README.md, "Layout"); every folder of cli/ and
# engine/ is on the include path, and each object's header dependencies are computed by the
# compiler (-MMD -MP, build/**/*.d).

CC       ?= cc
NVCC     ?= $(shell command -v nvcc 2>/dev/null)
GIT_COMMIT := $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
PYTHON   := build/venv/bin/python
NPROC    := $(shell nproc 2>/dev/null || echo 2)

SRC_DIRS := cli $(sort $(dir $(wildcard cli/*/*.c cli/*/*.h))) \
            engine $(sort $(dir $(wildcard engine/*/*.c engine/*/*.h engine/*/*.cu engine/*/*.cuh)))
WARN     := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wno-unused-parameter
CPPFLAGS := $(addprefix -I,$(patsubst %/,%,$(SRC_DIRS))) -D_GNU_SOURCE \
            -DBENCH_GIT_COMMIT='"$(GIT_COMMIT)"'
DEPFLAGS  = -MMD -MP
CFLAGS   ?= -O2 -g
CFLAGS   += -std=c11 $(WARN) -fopenmp -pthread
LDLIBS   := -lyaml -ljansson -lpcre2-8 -lopenblas -lm -lpthread
TEST_INC := -Itests/lib

BENCH_SRC  := $(wildcard cli/*.c cli/*/*.c)
ENGINE_SRC := $(wildcard engine/*.c engine/*/*.c)
LIB_SRC    := $(filter-out cli/main.c,$(BENCH_SRC)) $(ENGINE_SRC)
CU_SRC     := $(wildcard engine/cuda/*.cu)
UNIT_SRC   := $(wildcard tests/unit/test_*.c)
ALL_HDR    := $(wildcard cli/*.h cli/*/*.h engine/*.h engine/*/*.h engine/*/*.cuh)

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

.PHONY: sim all setup setup-tests demo test unit-test fuzz clean bench-cpu bench-load bench-plan bench-tokenizer bench-decode bench-train bench-train-gpu bench-gpu gpu-test gpu-bundle
all: bench
	@echo "bench: built ./bench with backends: $(BUILT_WITH)"

bench: $(REL)/cli/main.o $(REL_OBJ) $(CU_OBJ)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS) $(REL_LDLIBS)

$(REL)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(REL_CPPFLAGS) $(CFLAGS) $(DEPFLAGS) -c -o $@ $<

$(REL)/%.o: %.cu
	@mkdir -p $(dir $@)
	$(NVCC) $(NVCCFLAGS) $(DEPFLAGS) -c -o $@ $<

# Programs of one .c file linked against the release objects: the unit tests (tests/unit), the
# GPU test programs (tests/gpu) and the benchmarks (benchmarks/).
PROG_LINK = $(CC) $(CPPFLAGS) $(REL_CPPFLAGS) $(TEST_INC) -Itests/gpu $(CFLAGS) $(DEPFLAGS) -o $@ $< \
            $(REL_OBJ) $(CU_OBJ) $(LDLIBS) $(REL_LDLIBS)

$(REL)/tests/%: tests/unit/%.c $(REL_OBJ) $(CU_OBJ)
	@mkdir -p $(dir $@)
	$(PROG_LINK)

# ---- sanitizer build (build/asan): ASan + UBSan, CPU backend only ----
ASAN := build/asan
ASAN_FLAGS := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
ASAN_OBJ := $(patsubst %.c,$(ASAN)/%.o,$(LIB_SRC))

$(ASAN)/bench: $(ASAN)/cli/main.o $(ASAN_OBJ)
	$(CC) $(CFLAGS) $(ASAN_FLAGS) -o $@ $^ $(LDLIBS)

$(ASAN)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(ASAN_FLAGS) $(DEPFLAGS) -c -o $@ $<

$(ASAN)/tests/%: tests/unit/%.c $(ASAN_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(TEST_INC) $(CFLAGS) $(ASAN_FLAGS) $(DEPFLAGS) -o $@ $< $(ASAN_OBJ) $(LDLIBS)

UNIT_REL  := $(patsubst tests/unit/%.c,$(REL)/tests/%,$(UNIT_SRC))
UNIT_ASAN := $(patsubst tests/unit/%.c,$(ASAN)/tests/%,$(UNIT_SRC))

# ---- targets ----
setup:
	@scripts/setup.sh

setup-tests:
	@scripts/setup.sh --for-tests

demo: setup
	@$(MAKE) --no-print-directory -j$(NPROC) all
	./bench run suites/quickstart.yaml --device cpu

test: setup-tests
	@$(MAKE) --no-print-directory -j$(NPROC) all $(UNIT_REL) $(ASAN)/bench $(UNIT_ASAN) \
	  $(GPU_BIN)/test_parity_gpu $(GPU_BIN)/test_train_kernels $(GPU_BIN)/test_train_gpu \
	  $(REL)/bench_train_gpu $(REL)/bench_gpu $(SIM_PROGS)
	@PYTHON=$(PYTHON) tests/run_all.sh

unit-test: all $(UNIT_REL)
	@for t in $(UNIT_REL); do echo "== $$t"; $$t || exit 1; done

# ---- fuzzing (clang libFuzzer) ----
FUZZ := build/fuzz
FUZZ_SECONDS ?= 60
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN := $(patsubst tests/fuzz/%.c,$(FUZZ)/%,$(FUZZ_SRC))
FUZZ_FLAGS := -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -fopenmp -pthread

$(FUZZ)/%: tests/fuzz/%.c $(LIB_SRC) $(ALL_HDR)
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
GPU_PROGS := test_kernels test_parity_gpu test_train_kernels test_train_gpu

$(GPU_BIN)/%: tests/gpu/%.c $(REL_OBJ) $(CU_OBJ)
	@mkdir -p $(dir $@)
	$(PROG_LINK)

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
# engine/cuda/*.cu compiled by g++ for tests/cuda_sim (launches rewritten by rewrite.pl, the
# runtime and cuBLASLt simulated), everything with ASan + UBSan; the GPU test programs and bench
# linked against it. `make test` runs them (tests/run_all.sh, group sim/). Needs the CUDA headers only.
SIM := build/sim
ifneq ($(NVCC),)
SIM_CPPFLAGS := $(CPPFLAGS) -DBENCH_CUDA -I$(CUDA_HOME)/include -Itests/cuda_sim
SIM_CXXFLAGS := -std=c++17 $(ASAN_FLAGS) -ffp-contract=off -Wall -Wextra -Wno-unused-parameter -Wno-sign-compare \
                -Wno-unknown-pragmas
CUH_SRC := $(wildcard engine/cuda/*.cuh)
SIM_OBJ := $(patsubst %.c,$(SIM)/%.o,$(LIB_SRC))
SIM_CU_OBJ := $(patsubst engine/cuda/%.cu,$(SIM)/cuda/%.o,$(CU_SRC))
SIM_RT_OBJ := $(patsubst tests/cuda_sim/%.cpp,$(SIM)/rt/%.o,$(wildcard tests/cuda_sim/*.cpp))
SIM_LINK := $(SIM_OBJ) $(SIM_CU_OBJ) $(SIM_RT_OBJ)
SIM_PROGS := $(SIM)/test_sim $(SIM)/bench $(addprefix $(SIM)/gpu/,$(GPU_PROGS)) $(SIM)/broken/bench

$(SIM)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -DBENCH_CUDA $(CFLAGS) $(ASAN_FLAGS) $(DEPFLAGS) -c -o $@ $<

$(SIM)/cuda/%.cpp: engine/cuda/%.cu tests/cuda_sim/rewrite.pl
	@mkdir -p $(dir $@)
	perl tests/cuda_sim/rewrite.pl $< >$@

# the kernels' headers rewritten too (static __shared__ variables), found first beside the .cpp
$(SIM)/cuda/headers.stamp: $(CUH_SRC) tests/cuda_sim/rewrite.pl
	@mkdir -p $(dir $@)
	for h in $(CUH_SRC); do perl tests/cuda_sim/rewrite.pl $$h >$(SIM)/cuda/$$(basename $$h) || exit 1; done
	@touch $@

$(SIM)/cuda/%.o: $(SIM)/cuda/%.cpp $(SIM)/cuda/headers.stamp
	g++ $(SIM_CPPFLAGS) $(SIM_CXXFLAGS) $(DEPFLAGS) -include tests/cuda_sim/cuda_sim.h -c -o $@ $<

$(SIM)/rt/%.o: tests/cuda_sim/%.cpp
	@mkdir -p $(dir $@)
	g++ $(SIM_CPPFLAGS) $(SIM_CXXFLAGS) $(DEPFLAGS) -c -o $@ $<

$(SIM)/test_sim.cpp: tests/cuda_sim/test_sim.cu tests/cuda_sim/rewrite.pl
	@mkdir -p $(dir $@)
	perl tests/cuda_sim/rewrite.pl $< >$@

$(SIM)/test_sim: $(SIM)/test_sim.cpp $(SIM_RT_OBJ)
	g++ $(SIM_CPPFLAGS) $(SIM_CXXFLAGS) $(DEPFLAGS) -include tests/cuda_sim/cuda_sim.h -o $@ $< \
	  $(SIM_RT_OBJ) -lopenblas -lm

$(SIM)/bench: $(SIM)/cli/main.o $(SIM_LINK)
	$(CC) $(CFLAGS) $(ASAN_FLAGS) -o $@ $^ $(LDLIBS) -lstdc++

# A bench whose exact attention kernel drops the softmax scale (-DBENCH_BROKEN_SOFTMAX_SCALE, one
# object recompiled): its GPU check must fail naming that kernel (tests/gpu/gpu_check_sim.sh).
$(SIM)/broken/cuda/attention.o: $(SIM)/cuda/attention.cpp $(SIM)/cuda/headers.stamp
	@mkdir -p $(dir $@)
	g++ $(SIM_CPPFLAGS) -I$(SIM)/cuda -DBENCH_BROKEN_SOFTMAX_SCALE $(SIM_CXXFLAGS) $(DEPFLAGS) \
	  -include tests/cuda_sim/cuda_sim.h -c -o $@ $<

$(SIM)/broken/bench: $(SIM)/cli/main.o $(filter-out $(SIM)/cuda/attention.o,$(SIM_LINK)) $(SIM)/broken/cuda/attention.o
	$(CC) $(CFLAGS) $(ASAN_FLAGS) -o $@ $^ $(LDLIBS) -lstdc++

$(SIM)/gpu/%: tests/gpu/%.c $(SIM_LINK)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -DBENCH_CUDA $(TEST_INC) -Itests/gpu $(CFLAGS) $(ASAN_FLAGS) $(DEPFLAGS) -o $@ $< \
	  $(SIM_LINK) $(LDLIBS) -lstdc++
else
SIM_PROGS :=
endif
sim: $(SIM_PROGS)

# ---- benchmarks (tables, not tests): benchmarks/*.c linked like the tests, run by their scripts ----
# bench-cpu: bench beside transformers and llama.cpp on the CPU (benchmarks/bench_cpu.sh [--quick]
#   [--no-setup]: reports/perf/CPU.md; the peers go into build/bench-venv, never by make test);
# bench-load: eval and training throughput next to a busy process, threads spinning or asleep
#   (benchmarks/bench_load.sh [--reps N] [--threads N]);
# bench_cpu: CPU forward on random shapes against the sgemm peak ([--threads N] [--quick]);
# bench_decode: decode protocol ([--threads N] [--quick]);
# bench_gpu: engine speed on a device against transformers (benchmarks/bench_gpu.sh [--quick]
#   [--out DIR], on a GPU machine; reports/perf/REPORT.md's content);
# bench_train: CPU trainer (benchmarks/bench_train.sh [--threads N] [--only TEXT]);
# bench_train_gpu: CUDA trainer on the 50.9M recipe, tokens/s, model FLOP/s, MFU (needs a GPU:
#   benchmarks/bench_train_gpu.sh [--steps N] [--attention auto|simple|flash] [--fp32]).
$(REL)/bench_%: benchmarks/bench_%.c $(REL_OBJ) $(CU_OBJ)
	@mkdir -p $(dir $@)
	$(PROG_LINK)

bench-cpu: all $(REL)/bench_gpu
	@benchmarks/bench_cpu.sh $(BENCH_ARGS)

bench-load: all $(REL)/bench_gpu $(REL)/bench_train
	@benchmarks/bench_load.sh $(BENCH_ARGS)

bench-decode: all $(REL)/bench_decode
	@$(REL)/bench_decode $(BENCH_ARGS)

bench-gpu: all $(REL)/bench_gpu
	@PYTHON=$(PYTHON) benchmarks/bench_gpu.sh $(BENCH_ARGS)

bench-train: all $(REL)/bench_train
	@benchmarks/bench_train.sh $(BENCH_ARGS)

bench-train-gpu: all $(REL)/bench_train_gpu
	@benchmarks/bench_train_gpu.sh $(BENCH_ARGS)

bench-plan: all
	@benchmarks/bench_plan.sh

bench-tokenizer: setup-tests
	@$(MAKE) --no-print-directory -j$(NPROC) all
	@PYTHON=$(PYTHON) benchmarks/bench_tokenizer.sh

clean:
	rm -rf build bench

-include $(shell find build -name '*.d' 2>/dev/null)
