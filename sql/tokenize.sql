--
-- embed_tokenize: lower-case word tokens of letters and digits.
--
SELECT embed_tokenize('Hello, World! It''s 2024: e-mail me@example.org.');
SELECT embed_tokenize('');
SELECT embed_tokenize('  ,;  ');
SELECT embed_tokenize(NULL);
SELECT embed_tokenize('MiXeD   CaSe	tabs
newlines');
-- non-ASCII letters stay inside words; typographic punctuation splits
SELECT embed_tokenize('Grüße aus Köln — “naïve” café… 10€ ½ x×y');
SELECT embed_tokenize('Привет, мир! Ελληνικά κείμενα');
SELECT embed_tokenize('東京タワー、日本。ｆｕｌｌ　ｗｉｄｔｈ！');
SELECT embed_tokenize('emoji🙂split and «guillemets» ¿qué? ¡sí!');
-- lower-casing follows the collation, as lower() does
SELECT embed_tokenize('ÄRGER ÜBER ÉTÉ' COLLATE "C");
SELECT embed_tokenize('ÄRGER ÜBER ÉTÉ' COLLATE "und-x-icu");
-- the ETL pattern of the README
SELECT d.id AS doc_id, t.pos, t.token
FROM (VALUES (1, 'The cat sat.'), (2, 'A dog, a cat!')) d(id, body),
	 unnest(embed_tokenize(d.body)) WITH ORDINALITY t(token, pos)
ORDER BY 1, 2;
