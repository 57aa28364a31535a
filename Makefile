# linerate build. `make` builds ./build/linerate; `make run` and `make test` are the README's two
# commands and install what is missing first (scripts/setup.sh).
#
# Each source folder builds into its own static library; generated code (the OTLP protobuf-c
# bindings) lives only in the build folder.

BUILD   ?= build
SAN     ?=
CC      ?= cc
CXX     ?= c++
V       ?=
Q        = $(if $(V),,@)

PKGS     = libprotobuf-c rdkafka libnghttp2 zlib libzstd yaml-0.1 hwloc json-c liblz4 snappy
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lnuma -lisal -lpthread -lm
# DPDK, for dataplane/dpdk.c alone: its flags carry -march=corei7 and -include rte_config.h, so
# they stay on that one object. Its libraries go last on link lines (they start with
# -Wl,--as-needed: a binary that never calls lr_dp_dpdk_* does not depend on them). Without
# libdpdk-dev the file builds as stubs that say so.
DPDK_CFLAGS := $(shell pkg-config --cflags libdpdk 2>/dev/null)
DPDK_LIBS   := $(shell pkg-config --libs libdpdk 2>/dev/null)
ifeq ($(strip $(DPDK_CFLAGS)),)
DPDK_CFLAGS := -DLR_NO_DPDK
endif

OPT      = -O2
ifeq ($(SAN),1)
OPT      = -O1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
endif

PROTO_GEN = build/proto
CPPFLAGS_ALL = -D_GNU_SOURCE -Iinclude -I$(PROTO_GEN) $(PKG_CFLAGS) -MMD -MP
CFLAGS_ALL   = -std=c11 $(OPT) -g -Wall -Wextra -Werror $(CPPFLAGS_ALL)
CXXFLAGS_ALL = -std=c++17 $(OPT) -g -Wall -Wextra -Werror $(CPPFLAGS_ALL)
SAN_FLAGS    = -fsanitize=address,undefined
LDFLAGS_ALL  = $(if $(filter 1,$(SAN)),$(SAN_FLAGS))

# ---- OTLP schema: fetched from a pinned npm package, compiled with protoc-c -------------------
PROTO_NAMES = common/v1/common resource/v1/resource trace/v1/trace metrics/v1/metrics logs/v1/logs \
              collector/trace/v1/trace_service collector/metrics/v1/metrics_service \
              collector/logs/v1/logs_service
PROTO_C     = $(patsubst %,$(PROTO_GEN)/opentelemetry/proto/%.pb-c.c,$(PROTO_NAMES))

build/proto/.stamp: scripts/fetch-proto.sh
	@mkdir -p build/proto-src build/proto
	$(Q)scripts/fetch-proto.sh build/proto-src
	$(Q)cd build/proto-src && protoc-c --c_out=../proto $(patsubst %,opentelemetry/proto/%.proto,$(PROTO_NAMES))
	@touch $@

$(PROTO_C): build/proto/.stamp ;

# ---- sources ---------------------------------------------------------------------------------
DP_SRC   = $(wildcard dataplane/*.c)
CP_SRC   = $(filter-out control/main.c,$(wildcard control/*.c))
GPU_SRC  = $(wildcard gpu/*.c)
UNIT_SRC = $(wildcard tests/unit/*/*.cc)
TOOL_SRC = $(wildcard tests/tools/*.c)
FUZZ_SRC = $(wildcard tests/fuzz/fuzz_*.c)

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))
PROTO_OBJ = $(patsubst $(PROTO_GEN)/%.c,$(BUILD)/obj/proto/%.o,$(PROTO_C))

LIB_PROTO = $(BUILD)/libotlp_pb.a
LIB_DP    = $(BUILD)/libdataplane.a
LIB_CP    = $(BUILD)/libcontrol.a
LIB_GPU   = $(BUILD)/libgpu.a
LIBS_ALL  = $(LIB_CP) $(LIB_DP) $(LIB_GPU) $(LIB_PROTO)
# dataplane workers append to the spool (control/spool.c): the libraries refer to each other.
LINK_LIBS = -Wl,--start-group $(LIBS_ALL) -Wl,--end-group

BIN       = $(BUILD)/linerate
UNIT_BIN  = $(patsubst tests/unit/%.cc,$(BUILD)/tests/unit/%,$(UNIT_SRC))
TOOL_BIN  = $(patsubst tests/tools/%.c,$(BUILD)/tests/tools/%,$(TOOL_SRC))
# Bench drivers that integration tests run too (tests/integration/test_otlp_load.sh).
BENCH_BIN = $(BUILD)/bench/otlp-load

.PHONY: all run test unit asan fuzz fuzz-build format format-check clean setup docs-check bench bench-quick
all: $(BIN) $(UNIT_BIN) $(TOOL_BIN) $(BENCH_BIN)

$(BUILD)/obj/proto/%.o: $(PROTO_GEN)/%.c build/proto/.stamp
	@mkdir -p $(dir $@)
	$(Q)$(CC) -std=c11 $(OPT) -g -w $(CPPFLAGS_ALL) -c $< -o $@

$(BUILD)/obj/%.o: %.c build/proto/.stamp
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS_ALL) -c $< -o $@

$(BUILD)/obj/dataplane/dpdk.o: CFLAGS_ALL += $(DPDK_CFLAGS)
# gpu/anom_algo.h runs on the CPU and in CUDA: no contraction into FMAs on either side.
$(BUILD)/obj/gpu/%.o: CFLAGS_ALL += -ffp-contract=off

# CUDA (gpu/anom_cuda.cu) when nvcc is found: sm_80 and sm_90, cudart linked statically so that
# binaries run where there is no GPU (the detector then uses its CPU reference). `make NVCC=`
# builds CPU-only. nvcc compiles without sanitizers, in the ASan build too.
NVCC ?= $(or $(shell command -v nvcc 2>/dev/null),$(wildcard /usr/local/cuda/bin/nvcc))
ifneq ($(strip $(NVCC)),)
CUDA_HOME ?= $(patsubst %/bin/nvcc,%,$(NVCC))
CUDA_OBJ   = $(BUILD)/obj/gpu/anom_cuda.o
PKG_LIBS  += -L$(CUDA_HOME)/lib64 -lcudart_static -ldl -lrt -lstdc++
$(BUILD)/obj/gpu/anom.o: CFLAGS_ALL += -DLR_HAVE_CUDA
$(CUDA_OBJ): gpu/anom_cuda.cu gpu/anom_algo.h gpu/anom_cuda.h include/linerate/anomaly.h
	@mkdir -p $(dir $@)
	$(Q)$(NVCC) -std=c++17 -O2 -g -fmad=false -Iinclude -gencode arch=compute_80,code=sm_80 \
	  -gencode arch=compute_90,code=sm_90 -Xcompiler -Wall,-Wextra,-Werror -c $< -o $@
$(LIB_GPU): $(CUDA_OBJ)
endif

# ---- eBPF host probes (bpf/hostprobes.bpf.c -> a libbpf skeleton for control/hostmetrics.c) ----
# vmlinux.h comes from the build machine's BTF and the skeleton from bpftool, both into the build
# folder. Without bpftool or BTF the probes are compiled out (they report "off" with the reason).
BPF_OK := $(shell command -v bpftool >/dev/null 2>&1 && command -v clang >/dev/null 2>&1 && \
            test -r /sys/kernel/btf/vmlinux && echo 1)
ifeq ($(BPF_OK),1)
$(BUILD)/bpf/vmlinux.h:
	@mkdir -p $(dir $@)
	$(Q)bpftool btf dump file /sys/kernel/btf/vmlinux format c > $@.tmp && mv $@.tmp $@
$(BUILD)/bpf/%.bpf.o: bpf/%.bpf.c bpf/%.h $(BUILD)/bpf/vmlinux.h
	$(Q)clang -O2 -g -target bpf -D__TARGET_ARCH_x86 -I$(BUILD)/bpf -Ibpf -Wall -Werror -c $< -o $@
$(BUILD)/bpf/%.skel.h: $(BUILD)/bpf/%.bpf.o
	$(Q)bpftool gen skeleton $< name lr_$* > $@.tmp && mv $@.tmp $@
$(BUILD)/obj/control/hostmetrics.o: $(BUILD)/bpf/hostprobes.skel.h
$(BUILD)/obj/control/hostmetrics.o: CFLAGS_ALL += -DLR_HAVE_HOSTPROBES -I$(BUILD)/bpf
PKG_LIBS += -lbpf
endif

$(LIB_PROTO): $(PROTO_OBJ)
	$(Q)rm -f $@ && ar rcs $@ $^
$(LIB_DP): $(call obj,$(DP_SRC)) ; $(Q)rm -f $@ && ar rcs $@ $^
$(LIB_CP): $(call obj,$(CP_SRC)) ; $(Q)rm -f $@ && ar rcs $@ $^
$(LIB_GPU): $(call obj,$(GPU_SRC)) ; $(Q)rm -f $@ && ar rcs $@ $(if $^,$^,)

$(BIN): $(call obj,control/main.c) $(LIBS_ALL)
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $(call obj,control/main.c) $(LINK_LIBS) $(PKG_LIBS) $(DPDK_LIBS)
	@echo "built $@"

$(BUILD)/tests/unit/%: tests/unit/%.cc $(LIBS_ALL) build/proto/.stamp
	@mkdir -p $(dir $@)
	$(Q)$(CXX) $(CXXFLAGS_ALL) -Itests -o $@ $< $(filter %_harness.o,$^) $(LINK_LIBS) -lgtest -lgtest_main $(PKG_LIBS) $(LDFLAGS_ALL) $(DPDK_LIBS)

# C++ cannot include headers that hold C11 atomics (dataplane/otlp_http.h, linerate/sampling.h):
# such tests reach their subject through a C harness beside them, linked in (*_harness.o).
$(BUILD)/tests/unit/dataplane/test_otlp_http: $(call obj,tests/unit/dataplane/otlp_http_harness.c)
$(BUILD)/tests/unit/control/test_sampling_api: $(call obj,tests/unit/control/sampling_api_harness.c)
$(BUILD)/tests/unit/gpu/test_batcher: $(call obj,tests/unit/gpu/batcher_harness.c)

$(BUILD)/tests/tools/%: tests/tools/%.c $(LIBS_ALL) build/proto/.stamp
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS_ALL) -o $@ $< $(LINK_LIBS) $(PKG_LIBS) $(LDFLAGS_ALL) $(DPDK_LIBS)

# Bench drivers that link the libraries (bench/*.sh build what they use).
$(BUILD)/bench/%: bench/%.c $(LIBS_ALL) build/proto/.stamp
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS_ALL) -o $@ $< $(LINK_LIBS) $(PKG_LIBS) $(LDFLAGS_ALL) $(DPDK_LIBS)

# bench/nab and its scorer's unit test link bench/nab_score.c (NAB's scoring method).
NAB_SCORE_OBJ = $(call obj,bench/nab_score.c)
$(BUILD)/bench/nab: bench/nab.c $(NAB_SCORE_OBJ) $(LIBS_ALL) build/proto/.stamp
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS_ALL) -o $@ $< $(NAB_SCORE_OBJ) $(LINK_LIBS) $(PKG_LIBS) $(LDFLAGS_ALL) $(DPDK_LIBS)
$(BUILD)/tests/unit/bench/test_nab_score: tests/unit/bench/test_nab_score.cc $(NAB_SCORE_OBJ)
	@mkdir -p $(dir $@)
	$(Q)$(CXX) $(CXXFLAGS_ALL) -Itests -o $@ $< $(NAB_SCORE_OBJ) -lgtest -lgtest_main -lpthread -lm $(LDFLAGS_ALL)

# ---- fuzzing (clang libFuzzer + ASan + UBSan) -------------------------------------------------
FUZZ_BUILD = build-fuzz
# dataplane/dpdk.c builds as stubs here (LR_NO_DPDK): the fuzzers never open a port.
FUZZ_CFLAGS = -std=c11 -g -O1 -fsanitize=fuzzer-no-link,address,undefined -D_GNU_SOURCE -Iinclude \
              -I$(PROTO_GEN) $(PKG_CFLAGS) -DLR_NO_DPDK
FUZZ_BIN = $(patsubst tests/fuzz/%.c,$(FUZZ_BUILD)/%,$(FUZZ_SRC))
# control/config.c: the dataplane workers read their addresses through lr_cp_config_dp_addr;
# gpu/features.c: they count anomaly features per span. control/hostprobes_names.c: config.c checks
# host_metrics.probes against it.
FUZZ_LIB_SRC = $(DP_SRC) control/spool.c control/config.c control/hostprobes_names.c gpu/features.c \
               $(PROTO_C)
# The library is compiled once for every target (instrumented, not linked with libFuzzer's main).
FUZZ_OBJ = $(patsubst %.c,$(FUZZ_BUILD)/obj/%.o,$(FUZZ_LIB_SRC))
.SECONDARY: $(FUZZ_OBJ)
fuzz-build: build/proto/.stamp
	$(Q)$(MAKE) --no-print-directory $(FUZZ_BIN)
$(FUZZ_BUILD)/obj/%.o: %.c build/proto/.stamp
	@mkdir -p $(dir $@)
	$(Q)clang $(FUZZ_CFLAGS) -MMD -MP -c $< -o $@
$(FUZZ_BUILD)/%: tests/fuzz/%.c $(FUZZ_OBJ)
	@mkdir -p $(FUZZ_BUILD)
	$(Q)clang $(FUZZ_CFLAGS) -fsanitize=fuzzer -Wno-unused-command-line-argument -o $@ $< $(FUZZ_OBJ) $(PKG_LIBS)
FUZZ_SECONDS ?= 300
fuzz: fuzz-build
	$(Q)for f in $(FUZZ_BIN); do n=$$(basename $$f); mkdir -p $(FUZZ_BUILD)/corpus/$$n; \
	  $$f -max_total_time=$(FUZZ_SECONDS) $(FUZZ_BUILD)/corpus/$$n tests/fuzz/corpus/$$n \
	    $$( [ -f tests/fuzz/$$n.dict ] && echo -dict=tests/fuzz/$$n.dict ) || exit 1; done

# ---- the README's two commands ------------------------------------------------------------------
setup:
	$(Q)scripts/setup.sh

run: setup
	$(Q)$(MAKE) --no-print-directory $(BIN)
	$(Q)mkdir -p run
	exec $(BIN) --run-dir run $(ARGS)

# The builds use every cpu: serially they took half of make test's twenty minutes.
NPROC := $(shell nproc 2>/dev/null || echo 2)
test: setup
	$(Q)$(MAKE) --no-print-directory -j$(NPROC) all
	$(Q)$(MAKE) --no-print-directory -j$(NPROC) BUILD=build-asan SAN=1 all
	$(Q)$(MAKE) --no-print-directory -j$(NPROC) fuzz-build
	$(Q)tests/run.sh

asan:
	$(Q)$(MAKE) --no-print-directory BUILD=build-asan SAN=1 all

# Benchmarks (never part of make test): append a dated block to bench/RESULTS.md.
bench: setup
	$(Q)bench/run.sh full

bench-quick: setup
	$(Q)bench/run.sh quick

format:
	$(Q)clang-format -i $$(git ls-files '*.c' '*.h' '*.cc')

format-check:
	$(Q)clang-format --dry-run --Werror $$(git ls-files '*.c' '*.h' '*.cc')

docs/CONFIG.md: $(BIN)
	$(Q)$(BIN) --print-config-doc > $@

clean:
	rm -rf build build-asan build-fuzz

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
-include $(shell find $(FUZZ_BUILD)/obj -name '*.d' 2>/dev/null)
