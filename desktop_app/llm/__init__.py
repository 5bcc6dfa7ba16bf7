"""The only code that talks to the network: providers and their keys, streaming chat
replies on the openai SDK, calibration of our token estimates, and the model-backed
summarizer and memory extractor (each with an offline fallback).

Importing this package (or providers, keys, calibration) never imports the openai SDK:
that costs over half a second and must stay off the path to the first window. The SDK is
imported inside the functions that need it."""
