"""MobileFaceNet as in github.com/foamliu/MobileFaceNet (`mobilefacenet.py`), rewritten so that
its module names match the state dict `weights/mobilefacenet.pt` key for key.

Checked against the shipped ONNX export of the same weights: ConvBNReLU uses ReLU6 (Clip 0..6 in
the graph), the depthwise-separable stem uses plain ReLU, GDConv and the final 1x1 conv + BN are
linear. Input [N,3,112,112] RGB normalised with ImageNet mean/std; output [N,128] raw embedding.
"""
from torch import nn

# (expansion t, output channels c, repeats n, first stride s), as in MobileNetV2 notation.
_SETTING = ((2, 64, 5, 2), (4, 128, 1, 2), (2, 128, 6, 1), (4, 128, 1, 2), (2, 128, 2, 1))


class ConvBNReLU(nn.Sequential):
    def __init__(self, cin: int, cout: int, kernel: int = 3, stride: int = 1, groups: int = 1):
        super().__init__(
            nn.Conv2d(cin, cout, kernel, stride, (kernel - 1) // 2, groups=groups, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU6(inplace=True),
        )


class DepthwiseSeparableConv(nn.Module):
    def __init__(self, cin: int, cout: int, kernel: int, padding: int):
        super().__init__()
        self.depthwise = nn.Conv2d(cin, cin, kernel, padding=padding, groups=cin, bias=False)
        self.pointwise = nn.Conv2d(cin, cout, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cin)
        self.bn2 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU()

    def forward(self, x):
        x = self.relu(self.bn1(self.depthwise(x)))
        return self.relu(self.bn2(self.pointwise(x)))


class GDConv(nn.Module):
    """Global depthwise conv: a learned 7x7 spatial pooling per channel."""

    def __init__(self, channels: int, kernel: int):
        super().__init__()
        self.depthwise = nn.Conv2d(channels, channels, kernel, groups=channels, bias=False)
        self.bn = nn.BatchNorm2d(channels)

    def forward(self, x):
        return self.bn(self.depthwise(x))


class InvertedResidual(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int, expand: int):
        super().__init__()
        hidden = cin * expand
        self.use_res_connect = stride == 1 and cin == cout
        self.conv = nn.Sequential(
            ConvBNReLU(cin, hidden, kernel=1),
            ConvBNReLU(hidden, hidden, stride=stride, groups=hidden),
            nn.Conv2d(hidden, cout, 1, bias=False),
            nn.BatchNorm2d(cout),
        )

    def forward(self, x):
        return x + self.conv(x) if self.use_res_connect else self.conv(x)


class MobileFaceNet(nn.Module):
    def __init__(self, embedding_size: int = 128):
        super().__init__()
        self.conv1 = ConvBNReLU(3, 64, stride=2)
        self.dw_conv = DepthwiseSeparableConv(64, 64, kernel=3, padding=1)
        blocks, cin = [], 64
        for t, c, n, s in _SETTING:
            for i in range(n):
                blocks.append(InvertedResidual(cin, c, s if i == 0 else 1, t))
                cin = c
        self.features = nn.Sequential(*blocks)
        self.conv2 = ConvBNReLU(cin, 512, kernel=1)
        self.gdconv = GDConv(512, 7)
        self.conv3 = nn.Conv2d(512, embedding_size, 1)
        self.bn = nn.BatchNorm2d(embedding_size)

    def forward(self, x):
        x = self.features(self.dw_conv(self.conv1(x)))
        x = self.bn(self.conv3(self.gdconv(self.conv2(x))))
        return x.flatten(1)
