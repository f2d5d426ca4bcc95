-- embed_document reads only real model tables: a table with the right
-- column names but another type in "embedding" is refused, not misread.
CREATE TABLE fake_model (token text PRIMARY KEY, count bigint, embedding bytea);
INSERT INTO fake_model VALUES ('a', 1, '\x7fffffff00000000'::bytea);
SELECT embed_document('fake_model', ARRAY['a']);
CREATE TABLE fake_model2 (token text PRIMARY KEY, count bigint, embedding real[]);
INSERT INTO fake_model2 VALUES ('a', 1, ARRAY[1, 2]);
SELECT embed_document('fake_model2', ARRAY['a']);
-- the same names with the right type work
CREATE TABLE real_model (token text PRIMARY KEY, count bigint, embedding embedding(2));
INSERT INTO real_model VALUES ('a', 1, '[1,2]'), ('b', 3, '[3,4]');
SELECT dims(embed_document('real_model', ARRAY['a', 'b', 'zzz'])) AS dims,
       embed_document('real_model', ARRAY['zzz']) IS NULL AS unknown_is_null;
DROP TABLE fake_model, fake_model2, real_model;
