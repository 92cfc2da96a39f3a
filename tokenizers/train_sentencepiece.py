"""Trains the project's 32,000-piece SentencePiece model on the default text corpus.

    .venv/bin/python tokenizers/train_sentencepiece.py   # writes gato/tokenizers/assets/

The corpus is the training split of `gato.data.formats.text_corpus.load_documents()` (the Python
3.11 documentation from the Debian package python3.11-doc); each non-empty line is one training
sentence. The settings make the model deterministic and lossless:

- BPE model, vocab exactly 32,000 (ids [0, 32000) as in Gato); unk=0, bos=1, eos=2, no pad;
- byte_fallback: characters outside the vocabulary become <0xNN> byte pieces, so any UTF-8 text
  round-trips; identity normalization and remove_extra_whitespaces=False, so decode(encode(s))
  == s exactly (no NFKC folding, no collapsed spaces); "\\n" is a user-defined piece;
- every sentence is used in file order (input_sentence_size=0, no shuffling), one thread and a
  fixed random seed, so the same corpus gives the same model.
"""

import argparse
import sys
import time
from pathlib import Path

import sentencepiece as spm

from gato.data.formats import text_corpus

VOCAB_SIZE = 32_000
SEED = 0


def training_sentences(documents: list[str]) -> list[str]:
    """Non-empty lines of the documents, in order (a line is a paragraph or a line of code)."""
    return [line for doc in documents for line in doc.splitlines() if line.strip()]


SHIPPED_MODEL = Path(__file__).parents[1] / "gato" / "tokenizers" / "assets" / "gato_sp32k.model"


def train(output: Path, root: Path, vocab_size: int = VOCAB_SIZE, threads: int = 1) -> Path:
    """Trains the model and writes it to `output` (a .model file); returns the path."""
    train_docs, _ = text_corpus.split(text_corpus.load_documents(root))
    sentences = training_sentences(train_docs)
    print(f"training on {len(train_docs)} documents, {len(sentences)} sentences, "
          f"{sum(map(len, sentences)) / 1e6:.1f} M characters")
    spm.set_random_generator_seed(SEED)
    output.parent.mkdir(parents=True, exist_ok=True)
    with output.open("wb") as model_writer:
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(sentences),
            model_writer=model_writer,
            model_type="bpe",
            vocab_size=vocab_size,
            character_coverage=0.9995,
            byte_fallback=True,
            normalization_rule_name="identity",
            remove_extra_whitespaces=False,
            allow_whitespace_only_pieces=True,
            split_digits=True,
            user_defined_symbols=["\n"],
            unk_id=0,
            bos_id=1,
            eos_id=2,
            pad_id=-1,
            input_sentence_size=0,
            shuffle_input_sentence=False,
            max_sentence_length=32768,
            num_threads=threads,
            minloglevel=1,
        )
    return output


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=SHIPPED_MODEL,
                        help="where to write the model (default: the package's shipped copy)")
    parser.add_argument("--root", type=Path, default=text_corpus.DEFAULT_ROOT,
                        help="folder of *.rst.txt sources (default: python3.11-doc's)")
    parser.add_argument("--vocab_size", type=int, default=VOCAB_SIZE)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    start = time.time()
    path = train(args.output, args.root, args.vocab_size, args.threads)
    size = spm.SentencePieceProcessor(model_file=str(path)).get_piece_size()
    print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB, {size} pieces) "
          f"in {time.time() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
