"""Text generators for Chinese document lines: invoice and receipt fields, addresses, phone
numbers, dates, amounts, mixed Chinese/Latin/digit lines, and uniform draws over the charset so
the rare level-2 hanzi are seen too.

Every generator takes a ``random.Random``; ``random_zh_text`` mixes them with real sentences and
frequency-sampled word phrases (``corpus``).  Horizontal text only.
"""

from __future__ import annotations

import random
import string
from collections.abc import Callable
from functools import lru_cache

from ..text_sources import frequent_word
from .charset import gb2312_hanzi
from .corpus import MAX_LINE_CHARS, WordSampler, sentence_lines

INVOICE_TITLES = [
    "增值税专用发票",
    "增值税普通发票",
    "增值税电子普通发票",
    "电子发票（普通发票）",
    "电子发票（增值税专用发票）",
    "机动车销售统一发票",
    "通用机打发票",
    "收据",
    "收款收据",
    "销售单",
    "送货单",
    "购物小票",
    "结账单",
]
FIELD_LABELS = [
    "发票代码",
    "发票号码",
    "开票日期",
    "校验码",
    "机器编号",
    "购买方",
    "销售方",
    "名称",
    "纳税人识别号",
    "统一社会信用代码",
    "地址、电话",
    "开户行及账号",
    "货物或应税劳务、服务名称",
    "项目名称",
    "规格型号",
    "单位",
    "数量",
    "单价",
    "金额",
    "税率",
    "税额",
    "合计",
    "价税合计（大写）",
    "价税合计",
    "（小写）",
    "备注",
    "收款人",
    "复核",
    "开票人",
    "销售方（章）",
    "密码区",
    "订单号",
    "流水号",
    "交易时间",
    "收银员",
    "找零",
    "实收",
    "应收",
    "优惠",
    "折扣",
    "会员卡号",
    "积分",
    "支付方式",
    "微信支付",
    "支付宝",
    "现金",
    "银行卡",
    "小计",
    "总计",
    "件数",
    "欢迎光临",
    "谢谢惠顾",
    "请妥善保管小票",
]
UNITS = ["个", "件", "台", "套", "箱", "瓶", "包", "盒", "千克", "公斤", "斤", "米", "吨", "次", "项", "本", "张", "份"]
GOODS = [
    "*信息技术服务*技术服务费",
    "*办公用品*打印纸",
    "*餐饮服务*餐费",
    "*住宿服务*住宿费",
    "*运输服务*客运服务费",
    "*计算机配套产品*硬盘",
    "*电子计算机*笔记本电脑",
    "*日用杂品*清洁用品",
    "*酒*白酒",
    "*乳制品*牛奶",
    "*蔬菜*有机蔬菜",
    "*成品油*汽油",
    "*印刷品*宣传册",
    "*现代服务*咨询服务费",
    "*建筑服务*工程款",
    "矿泉水",
    "面包",
    "可口可乐",
    "洗发水",
    "纸巾",
    "方便面",
    "苹果",
    "大米",
    "食用油",
    "鸡蛋",
    "酸奶",
    "口罩",
    "充电器",
]
PROVINCES = [
    ("北京市", ""),
    ("上海市", ""),
    ("天津市", ""),
    ("重庆市", ""),
    ("广东省", "广州市"),
    ("广东省", "深圳市"),
    ("浙江省", "杭州市"),
    ("江苏省", "南京市"),
    ("江苏省", "苏州市"),
    ("四川省", "成都市"),
    ("湖北省", "武汉市"),
    ("湖南省", "长沙市"),
    ("山东省", "济南市"),
    ("山东省", "青岛市"),
    ("河南省", "郑州市"),
    ("河北省", "石家庄市"),
    ("福建省", "厦门市"),
    ("陕西省", "西安市"),
    ("辽宁省", "沈阳市"),
    ("安徽省", "合肥市"),
    ("云南省", "昆明市"),
    ("贵州省", "贵阳市"),
    ("江西省", "南昌市"),
    ("广西壮族自治区", "南宁市"),
    ("内蒙古自治区", "呼和浩特市"),
    ("新疆维吾尔自治区", "乌鲁木齐市"),
    ("黑龙江省", "哈尔滨市"),
    ("吉林省", "长春市"),
    ("甘肃省", "兰州市"),
    ("海南省", "海口市"),
]
DISTRICT_SUFFIX = ["区", "县", "新区", "开发区", "高新区"]
ROAD_SUFFIX = ["路", "街", "大道", "大街", "巷", "东路", "西路", "南路", "北路", "中路"]
COMPANY_SUFFIX = [
    "有限公司",
    "股份有限公司",
    "有限责任公司",
    "科技有限公司",
    "贸易有限公司",
    "商贸有限公司",
    "餐饮管理有限公司",
    "超市",
    "分公司",
    "连锁店",
]
SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
    "姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
MOBILE_PREFIX = [
    "130",
    "131",
    "132",
    "135",
    "136",
    "137",
    "138",
    "139",
    "150",
    "151",
    "152",
    "158",
    "159",
    "166",
    "176",
    "177",
    "180",
    "181",
    "186",
    "187",
    "188",
    "189",
    "199",
]
CN_DIGITS = "零壹贰叁肆伍陆柒捌玖"
CN_UNITS = ["", "拾", "佰", "仟"]
LATIN_WORDS = [
    "Wi-Fi",
    "USB",
    "APP",
    "CPU",
    "VIP",
    "PDF",
    "iPhone",
    "Windows",
    "Linux",
    "Debian",
    "OCR",
    "No.",
    "Tel",
    "Email",
    "www",
    "com",
    "cn",
    "ID",
    "SKU",
    "KTV",
    "4S",
    "LED",
    "5G",
]


def _digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(string.digits) for _ in range(n))


def amount(rng: random.Random) -> str:
    """¥1,234.56 and its variants (with or without the sign, separators, full-width ￥)."""
    value = rng.choice([rng.uniform(0, 100), rng.uniform(0, 10000), rng.uniform(0, 1_000_000)])
    body = f"{value:,.2f}" if rng.random() < 0.5 else f"{value:.2f}"
    sign = rng.choice(["¥", "¥", "￥", "", "¥ ", "-¥"])
    return f"{sign}{body}" + rng.choice(["", "", "元", " 元"])


def upper_amount(rng: random.Random) -> str:
    """A capitalised amount in words, as 价税合计（大写）prints it: 壹仟贰佰叁拾肆圆伍角陆分."""
    yuan, jiao, fen = rng.randint(1, 99999), rng.randint(0, 9), rng.randint(0, 9)
    out, digits = "", str(yuan)
    for i, d in enumerate(digits):
        pos = len(digits) - 1 - i
        if d == "0":
            if out and not out.endswith("零") and pos % 4:
                out += "零"
        else:
            out += CN_DIGITS[int(d)] + CN_UNITS[pos % 4]
        if pos == 4:
            out = out.rstrip("零") + "万"
    out = out.rstrip("零") + "圆"
    if jiao == 0 and fen == 0:
        return out + "整"
    return out + (CN_DIGITS[jiao] + "角" if jiao else "零") + (CN_DIGITS[fen] + "分" if fen else "")


def cn_date(rng: random.Random) -> str:
    y, m, d = rng.randint(1995, 2035), rng.randint(1, 12), rng.randint(1, 28)
    return rng.choice(
        [
            f"{y}年{m}月{d}日",
            f"{y}年{m:02d}月{d:02d}日",
            f"{y}-{m:02d}-{d:02d}",
            f"{y}/{m:02d}/{d:02d}",
            f"{y}.{m}.{d}",
            f"{y}-{m:02d}-{d:02d} {rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}",
            f"{y}年{m}月",
        ]
    )


def tax_id(rng: random.Random) -> str:
    """An 18-character unified social credit code: digits and capitals without I, O, Z, S, V."""
    alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    return "91" + _digits(rng, 6) + "".join(rng.choice(alphabet) for _ in range(10))


def phone(rng: random.Random) -> str:
    r = rng.random()
    if r < 0.5:
        num = rng.choice(MOBILE_PREFIX) + _digits(rng, 8)
        return num if rng.random() < 0.6 else f"{num[:3]}-{num[3:7]}-{num[7:]}"
    if r < 0.85:
        return f"0{rng.randint(10, 999)}-{_digits(rng, rng.choice([7, 8]))}"
    return f"400-{_digits(rng, 3)}-{_digits(rng, 4)}"


def address(rng: random.Random, words: WordSampler) -> str:
    prov, city = rng.choice(PROVINCES)
    district = words(rng)[:3] + rng.choice(DISTRICT_SUFFIX)
    road = words(rng)[:3] + rng.choice(ROAD_SUFFIX)
    parts = [prov if rng.random() < 0.7 else "", city, district, f"{road}{rng.randint(1, 999)}号"]
    if rng.random() < 0.4:
        parts.append(rng.choice([f"{rng.randint(1, 30)}栋", f"{rng.randint(1, 20)}号楼", f"{words(rng)[:4]}大厦"]))
    if rng.random() < 0.4:
        parts.append(f"{rng.randint(1, 32)}{rng.randint(1, 20):02d}室")
    return "".join(parts)


def company(rng: random.Random, words: WordSampler) -> str:
    city = rng.choice(PROVINCES)[1 if rng.random() < 0.5 else 0].rstrip("市省")
    return f"{city}{words(rng)}{words(rng)}{rng.choice(COMPANY_SUFFIX)}"


def person(rng: random.Random) -> str:
    given = "".join(rng.choice(gb2312_hanzi()[:3755]) for _ in range(rng.randint(1, 2)))
    return rng.choice(SURNAMES) + given


def invoice_field(rng: random.Random, words: WordSampler) -> str:
    """One labelled field of an invoice or receipt, the way such documents print them."""
    colon = rng.choice(["：", "：", ":", ": ", ""])
    label = rng.choice(FIELD_LABELS)
    values: list[Callable[[], str]] = [
        lambda: _digits(rng, rng.choice([10, 12])),  # 发票代码
        lambda: _digits(rng, rng.choice([8, 20])),  # 发票号码
        lambda: cn_date(rng),
        lambda: " ".join(_digits(rng, 5) for _ in range(4)),  # 校验码
        lambda: tax_id(rng),
        lambda: company(rng, words),
        lambda: f"{address(rng, words)} {phone(rng)}",
        lambda: f"{words(rng)}银行{words(rng)[:3]}支行 {_digits(rng, rng.choice([16, 19]))}",
        lambda: amount(rng),
        lambda: f"{rng.choice([0, 1, 3, 6, 9, 13])}%",
        lambda: upper_amount(rng),
        lambda: person(rng),
        lambda: phone(rng),
        lambda: _digits(rng, rng.randint(6, 16)),
    ]
    return f"{label}{colon}{rng.choice(values)()}"


def item_row(rng: random.Random, words: WordSampler) -> str:
    """A goods row: name, spec, unit, quantity, unit price, amount, tax rate, tax."""
    qty = rng.randint(1, 50)
    unit_price = rng.uniform(0.5, 2000)
    total = qty * unit_price
    rate = rng.choice([0.01, 0.03, 0.06, 0.09, 0.13])
    name = rng.choice(GOODS) if rng.random() < 0.6 else words(rng) + words(rng)
    spec = rng.choice(["", "", f"{rng.randint(1, 999)}ml", f"{rng.randint(1, 50)}kg", f"A{rng.randint(3, 5)}", "标准"])
    cols = [name, spec, rng.choice(UNITS), str(qty), f"{unit_price:.2f}", f"{total:.2f}"]
    if rng.random() < 0.5:
        cols += [f"{int(rate * 100)}%", f"{total * rate:.2f}"]
    return " ".join(c for c in cols if c)


def receipt_line(rng: random.Random, words: WordSampler) -> str:
    r = rng.random()
    if r < 0.25:
        label = rng.choice(["合计", "总计", "小计", "实收", "应收", "找零", "优惠"])
        return f"{label}{rng.choice(['：', ':', ' '])}{amount(rng)}"
    if r < 0.45:
        return (
            rng.choice(INVOICE_TITLES)
            if rng.random() < 0.5
            else f"{rng.choice(PROVINCES)[0][:-1]}{rng.choice(INVOICE_TITLES)}"
        )
    if r < 0.6:
        return (
            f"{rng.choice(['电话', 'Tel', '联系电话', '服务热线', '手机'])}{rng.choice(['：', ':', ' '])}{phone(rng)}"
        )
    if r < 0.75:
        return f"{rng.choice(['地址', '门店地址', '收货地址'])}{rng.choice(['：', ':'])}{address(rng, words)}"
    if r < 0.9:
        return f"{rng.choice(['交易时间', '开票日期', '日期', '时间'])}{rng.choice(['：', ':'])}{cn_date(rng)}"
    label = rng.choice(["订单号", "流水号", "单号", "No.", "会员卡号"])
    return f"{label}{rng.choice(['：', ':', ''])}{_digits(rng, rng.randint(8, 20))}"


def phrase(rng: random.Random, words: WordSampler) -> str:
    """Frequency-sampled words run together, now and then with Chinese punctuation between."""
    out = ""
    for _ in range(rng.randint(1, 8)):
        out += words(rng)
        if rng.random() < 0.12:
            out += rng.choice("，。、；：？！")
    return out


def mixed_line(rng: random.Random, words: WordSampler) -> str:
    """Chinese words mixed with Latin words, numbers, units and brackets."""
    parts = []
    for _ in range(rng.randint(2, 6)):
        r = rng.random()
        if r < 0.5:
            parts.append(words(rng))
        elif r < 0.65:  # the fixed acronyms, or any English word by its real frequency, in any case
            parts.append(rng.choice(LATIN_WORDS) if rng.random() < 0.4 else _latin_case(rng, frequent_word(rng)))
        elif r < 0.8:
            parts.append(f"{rng.randint(1, 9999)}{rng.choice([*UNITS, '%', 'GB', 'kg', 'cm', 'mm', '℃', '°'])}")
        elif r < 0.9:
            parts.append(f"（{words(rng)}）" if rng.random() < 0.6 else f"《{words(rng)}》")
        else:
            parts.append("".join(rng.choice(string.ascii_letters) for _ in range(rng.randint(2, 6))))
    sep = rng.choice(["", "", " "])
    return sep.join(parts)


@lru_cache(maxsize=1)
def _uniform_pool() -> tuple[str, ...]:
    return tuple(gb2312_hanzi())


def uniform_hanzi(rng: random.Random) -> str:
    """Hanzi drawn uniformly from all 6,763: level-2 characters a text corpus almost never shows."""
    pool = _uniform_pool()
    return "".join(rng.choice(pool) for _ in range(rng.randint(2, 16)))


def symbols_line(rng: random.Random, words: WordSampler) -> str:
    """The rarer charset symbols in plausible company."""
    parts = [
        f"{rng.randint(-30, 45)}℃",
        f"№{_digits(rng, rng.randint(3, 8))}",
        f"{rng.randint(1, 9)}×{rng.randint(1, 9)}",
        f"{rng.randint(10, 99)}÷{rng.randint(1, 9)}",
        f"{rng.randint(1, 999)}‰",
        rng.choice("①②③④⑤⑥⑦⑧⑨⑩") + words(rng),
        rng.choice("ⅠⅡⅢⅣⅤⅥⅦⅧⅨⅩ") + "、" + words(rng),
        "「" + words(rng) + "」",
        "『" + words(rng) + "』",
        "【" + words(rng) + "】",
        "〔" + str(rng.randint(2000, 2030)) + "〕" + str(rng.randint(1, 99)) + "号",
        rng.choice("※☆★○●□■△▲◇◆→←↑↓√") + words(rng),
        words(rng) + "……",
        words(rng) + "——" + words(rng),
        words(rng) + "·" + words(rng),
        f"“{words(rng)}”",
        f"‘{words(rng)}’",
    ]
    rng.shuffle(parts)
    return rng.choice(["", " ", "，"]).join(parts[: rng.randint(1, 3)])


def _latin_case(rng: random.Random, word: str) -> str:
    r = rng.random()
    return word.upper() if r < 0.15 else word.title() if r < 0.4 else word


RULE_CHARS = "—————-–_=*·.…~"


def rule_line(rng: random.Random, words: WordSampler) -> str:
    """Separators and leaders: a row of dashes or dots on its own (a rule typed as text), a table of
    contents' dot leaders to a page number, a signature's dash.  Runs of one repeated character are
    what CTC finds hardest (one blank between each pair), and the sentences' real rows of 破折号 look
    nothing like the two-character ones elsewhere in the mix."""
    ch = rng.choice(RULE_CHARS)
    n = rng.randint(3, 26)
    r = rng.random()
    if r < 0.5:
        return ch * n
    if r < 0.8:
        gap = rng.choice(["", " "])
        return words(rng) + gap + rng.choice("…·.") * n + gap + str(rng.randint(1, 300))
    return rng.choice(["——", "—", "--"]) + rng.choice(["", " "]) + words(rng)


# (share of lines, name for the model card); ZhText maps each name to its generator
MIX: tuple[tuple[float, str], ...] = (
    (0.30, "fortunes-zh sentences"),
    (0.16, "jieba word phrases"),
    (0.10, "invoice fields"),
    (0.07, "goods rows"),
    (0.09, "receipt lines"),
    (0.05, "addresses"),
    (0.08, "mixed Chinese/Latin/digits"),
    (0.07, "uniform hanzi"),
    (0.03, "symbols"),
    (0.02, "separator rows and dot leaders"),
    (0.03, "amounts, dates, phones, tax ids"),
)


class ZhText:
    """One line of Chinese document text per call, drawn from ``MIX`` (shares sum to 1)."""

    def __init__(self, split: str = "train") -> None:
        self.words = WordSampler()
        self.sentences = sentence_lines(split)
        gens: dict[str, Callable[[random.Random], str]] = {
            "fortunes-zh sentences": self.sentence,
            "jieba word phrases": lambda r: phrase(r, self.words),
            "invoice fields": lambda r: invoice_field(r, self.words),
            "goods rows": lambda r: item_row(r, self.words),
            "receipt lines": lambda r: receipt_line(r, self.words),
            "addresses": lambda r: address(r, self.words),
            "mixed Chinese/Latin/digits": lambda r: mixed_line(r, self.words),
            "uniform hanzi": uniform_hanzi,
            "symbols": lambda r: symbols_line(r, self.words),
            "separator rows and dot leaders": lambda r: rule_line(r, self.words),
            "amounts, dates, phones, tax ids": rng_choice_amount_date,
        }
        self.mix: list[tuple[float, Callable[[random.Random], str]]] = [(w, gens[name]) for w, name in MIX]

    def sentence(self, rng: random.Random) -> str:
        if not self.sentences:
            return phrase(rng, self.words)
        line = rng.choice(self.sentences)
        if rng.random() < 0.3 and len(line) > 6:  # a window: lines break anywhere in documents
            start = rng.randint(0, len(line) - 4)
            line = line[start : start + rng.randint(4, MAX_LINE_CHARS)]
        return line

    def __call__(self, rng: random.Random, max_len: int = 28) -> str:
        r, acc = rng.random(), 0.0
        gen = self.mix[0][1]
        for weight, g in self.mix:
            acc += weight
            if r <= acc:
                gen = g
                break
        text = " ".join(gen(rng).split())
        if len(text) > max_len:
            start = rng.randint(0, len(text) - max_len)
            text = text[start : start + max_len].strip()
        return text


def rng_choice_amount_date(rng: random.Random) -> str:
    return rng.choice([amount, cn_date, phone, tax_id])(rng)
