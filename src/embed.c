/*-------------------------------------------------------------------------
 *
 * embed.c
 *	  Module start-up: the module magic, settings that belong to no single
 *	  layer, the calls into each layer's own start-up, and a memory hint
 *	  two layers share.
 *
 * src/embed.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <sys/mman.h>

#include "distance.h"
#include "embed.h"
#include "utils/builtins.h"
#include "utils/guc.h"

PG_MODULE_MAGIC;

static int	embed_kernels_setting = EMBED_KERNEL_AUTO;

static const struct config_enum_entry kernel_options[] = {
	{"auto", EMBED_KERNEL_AUTO, false},
	{"portable", EMBED_KERNEL_PORTABLE, false},
	{NULL, 0, false}
};

static void
assign_kernels(int newval, void *extra)
{
	embed_kernels_init((EmbedKernelChoice) newval);
}

void		_PG_init(void);

void
_PG_init(void)
{
	embed_kernels_init(EMBED_KERNEL_AUTO);

	DefineCustomEnumVariable("embed.kernels",
							 "Selects the distance kernels: the fastest the CPU supports, or portable C.",
							 "\"portable\" exists to test and compare; \"auto\" is always at least as fast.",
							 &embed_kernels_setting,
							 EMBED_KERNEL_AUTO,
							 kernel_options,
							 PGC_USERSET,
							 0,
							 NULL,
							 assign_kernels,
							 NULL);

	EmbedTrainInit();
	EmbedHnswInit();

#if PG_VERSION_NUM >= 150000
	MarkGUCPrefixReserved("embed");
#else
	EmitWarningsOnPlaceholders("embed");
#endif
}

PG_FUNCTION_INFO_V1(embed_kernels_in_use);
Datum
embed_kernels_in_use(PG_FUNCTION_ARGS)
{
	PG_RETURN_TEXT_P(cstring_to_text(embed_kernels_name()));
}

/*
 * Ask for transparent huge pages over the whole 2 MB pages inside
 * [p, p + len), where the kernel offers them on request.  Arrays read at
 * random, a row here and a row there (the index build's arena, the
 * training's weight matrices), otherwise miss the TLB on nearly every
 * read as well as the cache.  A hint: errors are ignored, and memory the
 * kernel does not back with huge pages (shared memory files, unless the
 * administrator enables them for shmem) stays as it is.
 */
void
EmbedAdviseHugePages(void *p, Size len)
{
#if defined(MADV_HUGEPAGE)
	uintptr_t	start = TYPEALIGN(EMBED_HUGE_PAGE, (uintptr_t) p);
	uintptr_t	end = TYPEALIGN_DOWN(EMBED_HUGE_PAGE, (uintptr_t) p + len);

	if (end > start)
		(void) madvise((void *) start, end - start, MADV_HUGEPAGE);
#endif
}
