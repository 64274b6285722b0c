from lims.samples.names import initials


def test_pinyin_initials_of_a_chinese_name() -> None:
    assert initials("湖北省武汉市长江电缆有限公司") == "hbswhszjdlyxgs"


def test_other_scripts_are_kept_without_spaces_or_punctuation() -> None:
    assert initials("ACME 仪器 Co.") == "acmeyqco"
    assert initials("") == ""
