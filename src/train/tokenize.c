/*-------------------------------------------------------------------------
 *
 * tokenize.c
 *	  embed_tokenize(text): split text into lower-case word tokens.
 *
 * The rule, chosen to be predictable in every server encoding and every
 * locale (including the C locale, where the C library knows nothing about
 * non-ASCII letters):
 *
 * 1. The text is lower-cased with the collation of the call (the database
 *    collation unless COLLATE says otherwise), exactly as lower() does.
 *    Under the C collation only A-Z change; under an ICU or libc collation
 *    for a real language, every letter does.
 * 2. It is then viewed as Unicode (converted to UTF-8 when the server
 *    encoding is another one).  A token is a maximal run of word
 *    characters: ASCII letters and digits, and every non-ASCII character
 *    except those in the Unicode blocks of punctuation, symbols and spaces
 *    listed in IsWordChar() below.  Everything else separates tokens.
 * 3. Tokens are returned in the server encoding, in text order.
 *
 * Non-ASCII letters of all scripts (Latin-1 accents, Greek, Cyrillic, CJK,
 * combining marks) therefore stay inside words, while dashes, quotes,
 * typographic punctuation, currency signs, arrows and emoji split them.
 *
 * src/train/tokenize.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_collation.h"
#include "catalog/pg_type.h"
#include "mb/pg_wchar.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/formatting.h"

PG_FUNCTION_INFO_V1(embed_tokenize);

/*
 * Is the Unicode code point cp part of a word?  See the file header.
 */
static inline bool
IsWordChar(pg_wchar cp)
{
	if (cp < 0x80)
		return (cp >= 'a' && cp <= 'z') || (cp >= '0' && cp <= '9') ||
			(cp >= 'A' && cp <= 'Z');

	/* Latin-1 punctuation and symbols, but not the letters ª µ º */
	if (cp <= 0xBF)
		return cp == 0xAA || cp == 0xB5 || cp == 0xBA;
	if (cp == 0xD7 || cp == 0xF7)	/* multiplication and division signs */
		return false;
	/* general punctuation, super/subscripts, currency, letterlike, arrows,
	 * maths, technical, box drawing, shapes, dingbats... */
	if (cp >= 0x2000 && cp <= 0x2BFF)
		return false;
	if (cp >= 0x2E00 && cp <= 0x2E7F)	/* supplemental punctuation */
		return false;
	if (cp >= 0x3000 && cp <= 0x303F)	/* CJK symbols and punctuation */
		return false;
	if (cp >= 0xFE10 && cp <= 0xFE1F)	/* vertical forms */
		return false;
	if (cp >= 0xFE30 && cp <= 0xFE6F)	/* compatibility and small forms */
		return false;
	/* fullwidth ASCII punctuation (fullwidth letters and digits are words) */
	if ((cp >= 0xFF00 && cp <= 0xFF0F) || (cp >= 0xFF1A && cp <= 0xFF20) ||
		(cp >= 0xFF3B && cp <= 0xFF40) || (cp >= 0xFF5B && cp <= 0xFF65))
		return false;
	if (cp >= 0xFFF0 && cp <= 0xFFFF)	/* specials */
		return false;
	if (cp >= 0x1F000 && cp <= 0x1FAFF) /* emoji, pictographs, symbols */
		return false;
	return true;
}

/*
 * embed_tokenize(text) RETURNS text[]
 */
Datum
embed_tokenize(PG_FUNCTION_ARGS)
{
	text	   *in = PG_GETARG_TEXT_PP(0);
	Oid			collid = PG_GET_COLLATION();
	int			enc = GetDatabaseEncoding();
	char	   *lower;
	size_t		lowerlen;
	const unsigned char *s;
	int			len;
	int			i;
	ArrayBuildState *astate;

	if (!OidIsValid(collid))
		collid = DEFAULT_COLLATION_OID;

	lower = str_tolower(VARDATA_ANY(in), VARSIZE_ANY_EXHDR(in), collid);
	lowerlen = strlen(lower);

	/* View the text as UTF-8; SQL_ASCII bytes >= 0x80 count as letters. */
	if (enc == PG_UTF8 || enc == PG_SQL_ASCII)
		s = (const unsigned char *) lower;
	else
		s = (const unsigned char *)
			pg_do_encoding_conversion((unsigned char *) lower, lowerlen,
									  enc, PG_UTF8);
	len = strlen((const char *) s);

	astate = initArrayResult(TEXTOID, CurrentMemoryContext, false);
	i = 0;
	while (i < len)
	{
		int			start;

		/* skip separators */
		while (i < len)
		{
			int			l;

			if (enc == PG_SQL_ASCII)
			{
				if (s[i] >= 0x80 || IsWordChar(s[i]))
					break;
				i++;
				continue;
			}
			l = pg_utf_mblen(s + i);
			if (i + l > len)
				l = len - i;
			if (IsWordChar(utf8_to_unicode(s + i)))
				break;
			i += l;
		}
		if (i >= len)
			break;

		/* take the word */
		start = i;
		while (i < len)
		{
			int			l;

			if (enc == PG_SQL_ASCII)
			{
				if (s[i] < 0x80 && !IsWordChar(s[i]))
					break;
				i++;
				continue;
			}
			l = pg_utf_mblen(s + i);
			if (i + l > len)
				l = len - i;
			if (!IsWordChar(utf8_to_unicode(s + i)))
				break;
			i += l;
		}

		{
			char	   *word;
			int			wlen = i - start;
			int			k;
			text	   *t;

			word = pnstrdup((const char *) s + start, wlen);
			/* ASCII upper case only survives a collation without it */
			for (k = 0; k < wlen; k++)
				if (word[k] >= 'A' && word[k] <= 'Z')
					word[k] += 'a' - 'A';
			if (enc != PG_UTF8 && enc != PG_SQL_ASCII)
				word = (char *)
					pg_do_encoding_conversion((unsigned char *) word,
											  wlen, PG_UTF8, enc);
			t = cstring_to_text(word);
			astate = accumArrayResult(astate, PointerGetDatum(t), false,
									  TEXTOID, CurrentMemoryContext);
			pfree(word);
		}
	}

	PG_RETURN_DATUM(makeArrayResult(astate, CurrentMemoryContext));
}
