# embed: PostgreSQL extension for embeddings (PGXS build)
#
#   make && make install      build and install against $(PG_CONFIG)
#   make test                 set up, build, install, run every test
#   make demo                 the end-to-end demo on a throwaway cluster
#   make bench                the project's benchmark
#   make installcheck         regression suite against a running server

EXTENSION = embed
EXTVERSION = $(shell sed -n "s/^default_version = '\(.*\)'/\1/p" embed.control)

MODULE_big = embed
SRCS = $(sort $(wildcard src/*.c src/train/*.c src/hnsw/*.c))
OBJS = $(SRCS:.c=.o)
HEADERS = $(wildcard src/*.h src/train/*.h src/hnsw/*.h)

# The install script is assembled from one fragment per layer, in the order
# the objects depend on each other: the type first, then training, then the
# index.
SQL_PARTS = src/embed.sql $(filter-out src/embed.sql,$(sort $(wildcard src/*.sql))) $(sort $(wildcard src/train/*.sql)) $(sort $(wildcard src/hnsw/*.sql))
DATA_built = sql/$(EXTENSION)--$(EXTVERSION).sql
# Beside the script of the current version: the upgrade scripts, and the
# frozen full scripts of earlier releases (so that an upgrade can be tested
# from a real old install).
UPGRADES = $(wildcard sql/$(EXTENSION)--*--*.sql)
DATA = $(UPGRADES) $(filter-out $(DATA_built) $(UPGRADES),$(wildcard sql/$(EXTENSION)--*.sql))

REGRESS = $(patsubst sql/%.sql,%,$(sort $(filter-out sql/$(EXTENSION)--%,$(wildcard sql/*.sql))))
REGRESS_OPTS = --inputdir=. --load-extension=$(EXTENSION)

PG_CONFIG ?= pg_config

# -O3 for the kernels' loops; no -ffast-math: NaN checks must survive.
PG_CFLAGS += -O3 -Wno-declaration-after-statement
PG_CPPFLAGS += -I$(srcdir)/src

EXTRA_CLEAN = sql/$(EXTENSION)--$(EXTVERSION).sql

PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

sql/$(EXTENSION)--$(EXTVERSION).sql: $(SQL_PARTS) embed.control Makefile
	( echo "-- embed $(EXTVERSION): generated from $(SQL_PARTS); edit those."; \
	  printf '%s\n' '\echo Use "CREATE EXTENSION embed" to load this file. \quit'; \
	  for f in $(SQL_PARTS); do echo; echo "-- from $$f"; cat $$f; done ) > $@

$(OBJS): $(HEADERS)

# Export from embed.so only what PostgreSQL looks up by name: the magic
# block, _PG_init, the SQL-callable functions (those with a pg_finfo_
# record) and the entry points of parallel and background workers (the
# names given as string literals to CreateParallelContext or
# bgw_function_name, on the same line).  Everything else stays local, so
# that a backend which has also loaded another extension with the same
# internal names (pgvector's hnswbuild, HnswSearchLayer, hnsw_ef_search...)
# keeps calling its own code.
ifeq ($(PORTNAME),linux)
EXPORTS = $(EXTENSION).exports
EXTRA_CLEAN += $(EXPORTS)
SHLIB_LINK += -Wl,--version-script=$(EXPORTS)
$(EXPORTS): $(OBJS) $(SRCS) Makefile
	{ echo '{ global: Pg_magic_func; _PG_init;'; \
	  nm -g --defined-only $(OBJS) | \
	    sed -n 's/^.* T pg_finfo_\(.*\)$$/  \1; pg_finfo_\1;/p' | sort -u; \
	  sed -n -e 's/.*CreateParallelContext([^,]*, *"\([A-Za-z0-9_]*\)".*/  \1;/p' \
	    -e 's/.*bgw_function_name[^"]*"\([A-Za-z0-9_]*\)".*/  \1;/p' $(SRCS) | sort -u; \
	  echo 'local: *; };'; } > $@
$(shlib): $(EXPORTS)
endif

.PHONY: test demo bench
test:
	scripts/pgenv test

demo:
	scripts/demo

bench:
	scripts/bench
