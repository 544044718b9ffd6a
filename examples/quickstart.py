"""Every task once on the local backend (offline) — swap in HubBackend(...) for hosted models.

.venv/bin/python examples/quickstart.py
"""

from hfbridge import HubBackend, LocalBackend, RateLimit, RetryPolicy


def main() -> None:
    backend = LocalBackend()
    # backend = HubBackend(model="meta-llama/Llama-3.1-8B-Instruct", provider="auto",
    #                      retry=RetryPolicy(max_attempts=6, deadline=120), rate_limit=RateLimit(300, per=3600))
    _ = (HubBackend, RateLimit, RetryPolicy)

    answer = backend.chat_completion([{"role": "user", "content": "Name a colour."}], max_tokens=20)
    print("chat:", answer.content)
    vectors = backend.feature_extraction(["first document", "second document"])
    print("embeddings:", len(vectors), "x", len(vectors[0]))
    print("sentiment:", backend.text_classification("What a great day!")[0])
    print("zero-shot:", backend.zero_shot_classification("My card was declined", ["billing", "shipping"])[0])
    print("entities:", backend.token_classification("Ada Lovelace was born in London."))


if __name__ == "__main__":
    main()
