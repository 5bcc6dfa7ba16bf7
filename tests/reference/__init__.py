"""The references that token counts are checked against: llama.cpp's own tokenizer and
server (llama_cpp.py), fed tiny models with real vocabularies and chat templates
(tiny_model.py). .ci/llama_cpp.sh builds them."""
