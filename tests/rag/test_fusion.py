from rag.fusion import rrf_fusion, zscore_fusion, zscores


def test_zscores_are_standardised() -> None:
    z = zscores({"a": 1.0, "b": 2.0, "c": 3.0})
    assert abs(sum(z.values())) < 1e-9 and z["c"] > z["b"] > z["a"]


def test_zscore_fusion_weights_the_components() -> None:
    dense = {"a": 0.9, "b": 0.5, "c": 0.1}
    bm25 = {"c": 9.0, "b": 5.0, "a": 1.0}
    assert max(zscore_fusion(dense, bm25, 1.0).items(), key=lambda kv: kv[1])[0] == "a"
    assert max(zscore_fusion(dense, bm25, 0.0).items(), key=lambda kv: kv[1])[0] == "c"


def test_zscore_fusion_with_no_keyword_hits_uses_dense_alone() -> None:
    fused = zscore_fusion({"a": 0.2, "b": 0.8}, {}, 0.35)
    assert fused["b"] > fused["a"]


def test_paper_missing_from_one_list_ranks_below_one_found_in_both() -> None:
    fused = zscore_fusion({"a": 0.9, "b": 0.8, "c": 0.1}, {"a": 3.0, "c": 1.0}, 0.5)
    assert fused["a"] > fused["b"]


def test_rrf_rewards_agreement() -> None:
    fused = rrf_fusion({"a": 0.9, "b": 0.8}, {"b": 5.0, "c": 4.0}, k=60)
    assert max(fused, key=fused.__getitem__) == "b"
