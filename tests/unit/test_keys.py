from exchange.keys import KEY_PREFIX, display_prefix, hash_api_key, new_api_key


def test_keys_are_random_and_long():
    keys = {new_api_key() for _ in range(200)}

    assert len(keys) == 200
    assert all(key.startswith(KEY_PREFIX) and len(key) >= 40 for key in keys)


def test_hash_is_stable_and_hides_the_key():
    key = new_api_key()

    digest = hash_api_key(key)

    assert digest == hash_api_key(key)
    assert len(digest) == 32
    assert key.encode() not in digest
    assert hash_api_key(key + "x") != digest


def test_display_prefix_is_a_short_head_of_the_key():
    key = new_api_key()

    assert key.startswith(display_prefix(key))
    assert len(display_prefix(key)) < len(key) // 3
