"""crnn-zh's golden set profile (``training.golden``): fixed Chinese document and invoice lines in
the font families held out of training, so the server's start-up reading gate checks a zh bundle
with text of its own language.  Fixed text, not the generators: the set must be the same on every
machine that has the fonts.  A ``.ttc`` is drawn with its first face (Micro Hei's regular face)."""

from __future__ import annotations

from ..golden import GoldenLine, GoldenSource
from .fonts import HELD_OUT_FAMILIES, split_faces

CHINESE_LINES: tuple[GoldenLine, ...] = (
    GoldenLine("增值税电子普通发票"),
    GoldenLine("发票代码：044031900111", "digits"),
    GoldenLine("发票号码：12345678", "digits", worn=True),
    GoldenLine("开票日期：2026年11月30日", "digits"),
    GoldenLine("纳税人识别号：91440300MA5F2K3X7Q", "digits", worn=True),
    GoldenLine("价税合计（小写）¥1,234.56", "digits"),
    GoldenLine("税额 ¥160.49 税率 13%", "digits", worn=True),
    GoldenLine("名称：深圳市科技有限公司"),
    GoldenLine("地址：广东省深圳市南山区科技园路18号", worn=True),
    GoldenLine("电话：0755-86001234", "digits"),
    GoldenLine("请妥善保管您的购物小票，谢谢惠顾！"),
    GoldenLine("合计：36.50元 找零：13.50元", "digits", worn=True),
    GoldenLine("会议将于下周一上午九点在三楼会议室举行。"),
    GoldenLine("请在截止日期前提交申请表和相关材料。", worn=True),
    GoldenLine("本产品支持USB-C快充和Wi-Fi 6连接", "mixed"),
    GoldenLine("客服热线400-800-1234（工作日9:00-18:00）", "mixed", worn=True),
    GoldenLine("春眠不觉晓，处处闻啼鸟。"),
    GoldenLine("《用户手册》第3章：安装与配置", "mixed"),
)


def chinese_source() -> GoldenSource:
    _, held = split_faces()
    if not held:
        raise RuntimeError("no held-out Chinese fonts installed (training/zh/fonts.py): `make setup-apt`")
    paths = tuple(dict.fromkeys(f.path for f in held))
    return GoldenSource(
        language="zh",
        lines=CHINESE_LINES,
        fonts=paths,
        describe=f"Chinese, in the font families held out of training: {', '.join(sorted(HELD_OUT_FAMILIES))}",
    )
